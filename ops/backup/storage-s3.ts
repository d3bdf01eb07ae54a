import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  type S3ClientConfig,
  type ServerSideEncryption,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { Readable } from 'node:stream';
import { BackupError } from './errors';
import type { BackupStore, StoredObject } from './storage';

export interface S3StoreOptions {
  /** Passed to S3Client: endpoint, region, credentials; `forcePathStyle` is set when an endpoint is given. */
  client?: S3ClientConfig;
  /** Server-side encryption: SSE-S3 (`AES256`) or SSE-KMS (`aws:kms` with an optional key id). */
  sse?: { mode: 'AES256' } | { mode: 'aws:kms'; kmsKeyId?: string };
  /** Multipart part size in bytes (default 8 MiB); memory use is about partSize * queueSize. */
  partSize?: number;
  queueSize?: number;
}

/** S3 settings from the environment: BACKUP_S3_ENDPOINT, AWS_REGION, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, BACKUP_SSE, BACKUP_SSE_KMS_KEY_ID. */
export function s3OptionsFromEnv(env: NodeJS.ProcessEnv = process.env): S3StoreOptions {
  const endpoint = env.BACKUP_S3_ENDPOINT;
  const sseMode = env.BACKUP_SSE;
  let sse: S3StoreOptions['sse'];
  if (sseMode === 'AES256') sse = { mode: 'AES256' };
  else if (sseMode === 'aws:kms') sse = { mode: 'aws:kms', kmsKeyId: env.BACKUP_SSE_KMS_KEY_ID };
  else if (sseMode) throw new BackupError('usage', `BACKUP_SSE must be AES256 or aws:kms (got "${sseMode}")`);
  const credentials = env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
    ? { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}) }
    : undefined; // otherwise the SDK's default chain (profile, instance role, IRSA)
  return { client: { ...(endpoint ? { endpoint } : {}), region: env.AWS_REGION ?? 'us-east-1', ...(credentials ? { credentials } : {}) }, sse };
}

/** An S3 bucket (AWS or any S3-compatible server) as backup storage. */
export class S3Store implements BackupStore {
  readonly description: string;
  private readonly s3: S3Client;

  constructor(
    private readonly bucket: string,
    private readonly prefix: string,
    private readonly options: S3StoreOptions = {},
  ) {
    this.description = `s3://${bucket}${prefix ? `/${prefix}` : ''}`;
    const config = options.client ?? {};
    this.s3 = new S3Client({ maxAttempts: 5, ...(config.endpoint ? { forcePathStyle: true } : {}), ...config });
  }

  private key(key: string): string {
    return this.prefix ? `${this.prefix}/${key}` : key;
  }

  private sseParams(): { ServerSideEncryption?: ServerSideEncryption; SSEKMSKeyId?: string } {
    const sse = this.options.sse;
    if (!sse) return {};
    return sse.mode === 'AES256' ? { ServerSideEncryption: 'AES256' } : { ServerSideEncryption: 'aws:kms', ...(sse.kmsKeyId ? { SSEKMSKeyId: sse.kmsKeyId } : {}) };
  }

  async check(): Promise<void> {
    try {
      await this.s3.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (error) {
      throw this.mapError(error, `bucket ${this.bucket}`);
    }
  }

  async put(key: string, body: Readable, contentType: string): Promise<void> {
    const upload = new Upload({
      client: this.s3,
      params: { Bucket: this.bucket, Key: this.key(key), Body: body, ContentType: contentType, ...this.sseParams() },
      partSize: this.options.partSize ?? 8 * 1024 * 1024,
      queueSize: this.options.queueSize ?? 2,
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (error) {
      body.destroy();
      throw this.mapError(error, `${this.description}/${key}`);
    }
  }

  async putText(key: string, text: string): Promise<void> {
    try {
      await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.key(key), Body: text, ContentType: 'application/json', ...this.sseParams() }));
    } catch (error) {
      throw this.mapError(error, `${this.description}/${key}`);
    }
  }

  async get(key: string): Promise<Readable> {
    try {
      const out = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
      return out.Body as Readable;
    } catch (error) {
      throw this.mapError(error, `${this.description}/${key}`);
    }
  }

  async getText(key: string): Promise<string | undefined> {
    try {
      const out = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
      return await out.Body?.transformToString('utf8');
    } catch (error) {
      const mapped = this.mapError(error, `${this.description}/${key}`);
      if (mapped.code === 'not_found') return undefined;
      throw mapped;
    }
  }

  async list(): Promise<StoredObject[]> {
    const out: StoredObject[] = [];
    const base = this.prefix ? `${this.prefix}/` : '';
    let token: string | undefined;
    try {
      do {
        const page = await this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: base, ContinuationToken: token }));
        for (const o of page.Contents ?? []) {
          if (o.Key) out.push({ key: o.Key.slice(base.length), size: o.Size ?? 0, lastModified: o.LastModified ?? new Date(0) });
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    } catch (error) {
      throw this.mapError(error, this.description);
    }
    return out;
  }

  async delete(keys: string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      const chunk = keys.slice(i, i + 1000).map((k) => ({ Key: this.key(k) }));
      try {
        const res = await this.s3.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: chunk, Quiet: true } }));
        if (res.Errors?.length) throw new BackupError('storage', `could not delete ${res.Errors.length} objects, e.g. ${res.Errors[0]?.Key}: ${res.Errors[0]?.Message}`);
      } catch (error) {
        throw this.mapError(error, this.description);
      }
    }
  }

  /** Turns SDK errors into the few cases an operator acts on differently. */
  private mapError(error: unknown, what: string): BackupError {
    if (error instanceof BackupError) return error;
    const name = error instanceof S3ServiceException ? error.name : (error as Error)?.name;
    const status = error instanceof S3ServiceException ? error.$metadata.httpStatusCode : undefined;
    const message = (error as Error)?.message ?? String(error);
    if (name === 'NoSuchBucket' || (name === 'NotFound' && what.startsWith('bucket '))) {
      return new BackupError('missing_bucket', `bucket ${this.bucket} does not exist (${this.description})`, `create it first, e.g. aws s3 mb s3://${this.bucket}`, { cause: error });
    }
    if (name === 'NoSuchKey' || name === 'NotFound' || status === 404) {
      return new BackupError('not_found', `${what} does not exist`, undefined, { cause: error });
    }
    if (['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied', 'Forbidden', 'CredentialsProviderError', 'ExpiredToken'].includes(name ?? '') || status === 403) {
      return new BackupError('bad_credentials', `access to ${what} was refused (${name}): check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or the role) and the bucket policy`, undefined, { cause: error });
    }
    return new BackupError('storage', `S3 request for ${what} failed: ${name}: ${message}`, undefined, { cause: error });
  }
}

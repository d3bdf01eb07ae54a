import { CreateBucketCommand, HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';

export interface S3Options {
  bucket: string;
  region: string;
  /** Custom endpoint (MinIO, localstack); unset for AWS. */
  endpoint?: string;
  /** Path-style URLs (`<endpoint>/<bucket>/<key>`); needed for MinIO. */
  forcePathStyle?: boolean;
  /** Static credentials; unset to use the default AWS chain (IRSA, env, profile). */
  accessKeyId?: string;
  secretAccessKey?: string;
}

export function createS3Client(options: S3Options): S3Client {
  return new S3Client({
    region: options.region,
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    forcePathStyle: options.forcePathStyle ?? Boolean(options.endpoint),
    ...(options.accessKeyId && options.secretAccessKey ? { credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey } } : {}),
  });
}

/** Where objects are reachable without a CDN: path-style for custom endpoints, virtual-hosted on AWS. */
export function s3ObjectBaseUrl(options: S3Options): string {
  if (options.endpoint) {
    const base = options.endpoint.replace(/\/+$/, '');
    return options.forcePathStyle === false ? base.replace('://', `://${options.bucket}.`) : `${base}/${options.bucket}`;
  }
  return `https://${options.bucket}.s3.${options.region}.amazonaws.com`;
}

/** Creates the bucket when missing (local development and tests; production buckets come from infra/). */
export async function ensureBucket(s3: S3Client, bucket: string): Promise<void> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
  } catch {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  }
}

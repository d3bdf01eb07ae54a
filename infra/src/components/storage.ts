import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import type { StackConfig } from '../config';

export interface StorageArgs {
  environment: StackConfig['environment'];
  /**
   * Web origins of the app (its own https://<edge.host> and app.corsOrigins): the only origins a
   * browser may PUT a presigned upload from, or GET a presigned read from, on the media bucket.
   */
  corsOrigins: string[];
  noncurrentVersionDays: number;
  backupRetentionDays: number;
  /** The backup bucket's name (switchboard:backup.bucket): what the CronJobs and ops derive their locations from. */
  backupBucketName: string;
  tags: Record<string, string>;
}

interface PrivateBucketArgs {
  /** The bucket's name; unset: Pulumi auto-names it (the media bucket, which nothing outside the stack names). */
  bucketName?: string;
  kmsKeyArn?: pulumi.Input<string>;
  lifecycleRules: aws.types.input.s3.BucketLifecycleConfigurationRule[];
  tags: Record<string, string>;
}

/** Statement every bucket policy carries: refuse plain-HTTP requests (AWS S3 security best practice). */
export function denyInsecureTransport(bucketArn: string) {
  return {
    Sid: 'DenyInsecureTransport',
    Effect: 'Deny',
    Principal: '*',
    Action: 's3:*',
    Resource: [bucketArn, `${bucketArn}/*`],
    Condition: { Bool: { 'aws:SecureTransport': 'false' } },
  };
}

/**
 * A bucket nobody outside the account reaches: every public-access switch on, ACLs disabled
 * (BucketOwnerEnforced), default encryption (KMS when a key is given), versioning, lifecycle.
 */
export class PrivateBucket extends pulumi.ComponentResource {
  readonly bucket: aws.s3.Bucket;

  constructor(name: string, args: PrivateBucketArgs, opts?: pulumi.ComponentResourceOptions) {
    super('switchboard:infra:PrivateBucket', name, {}, opts);
    const parent = { parent: this };
    this.bucket = new aws.s3.Bucket(name, { ...(args.bucketName ? { bucket: args.bucketName } : {}), forceDestroy: false, tags: args.tags }, parent);
    const bucket = this.bucket.id;
    new aws.s3.BucketPublicAccessBlock(`${name}-public-access`, { bucket, blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true }, parent);
    new aws.s3.BucketOwnershipControls(`${name}-ownership`, { bucket, rule: { objectOwnership: 'BucketOwnerEnforced' } }, parent);
    new aws.s3.BucketServerSideEncryptionConfiguration(
      `${name}-encryption`,
      {
        bucket,
        rules: [
          args.kmsKeyArn
            ? { applyServerSideEncryptionByDefault: { sseAlgorithm: 'aws:kms', kmsMasterKeyId: args.kmsKeyArn }, bucketKeyEnabled: true }
            : { applyServerSideEncryptionByDefault: { sseAlgorithm: 'AES256' } },
        ],
      },
      parent,
    );
    const versioning = new aws.s3.BucketVersioning(`${name}-versioning`, { bucket, versioningConfiguration: { status: 'Enabled' } }, parent);
    new aws.s3.BucketLifecycleConfiguration(`${name}-lifecycle`, { bucket, rules: args.lifecycleRules }, { parent: this, dependsOn: [versioning] });
    this.registerOutputs({ bucket: this.bucket.id });
  }
}

/**
 * What a browser may do on the media bucket, and from where: PUT (presigned upload, with the signed
 * headers) and GET/HEAD (presigned read), from the app's origins only. Exported for the policy test.
 */
export function mediaCorsRules(origins: string[]): aws.types.input.s3.BucketCorsConfigurationCorsRule[] {
  if (origins.length === 0 || origins.some((o) => o === '*' || !/^https:\/\/[^/*]+$/.test(o))) {
    throw new Error(`media bucket CORS: origins must be https://host values (the app's own host and app.corsOrigins), got ${JSON.stringify(origins)}`);
  }
  return [{
    id: 'app-presigned',
    allowedOrigins: [...new Set(origins)],
    allowedMethods: ['PUT', 'GET', 'HEAD'],
    allowedHeaders: ['content-type', 'if-none-match'],
    exposeHeaders: ['etag'],
    maxAgeSeconds: 3000,
  }];
}

/**
 * Media (attachments) and backups (`ops backup`, KMS-encrypted), and one least-privilege IAM policy
 * for each consumer. The media bucket is as private as the backups (issue 21): no CDN, no read
 * grant in its policy; the only reads are presigned GETs the core issues to current members, short-
 * lived (ATTACHMENT_DOWNLOAD_URL_TTL_S), so a removed member's links die with them.
 */
export class Storage extends pulumi.ComponentResource {
  readonly mediaBucket: aws.s3.Bucket;
  readonly backupBucket: aws.s3.Bucket;
  readonly backupKey: aws.kms.Key;
  readonly corePolicy: aws.iam.Policy;
  readonly backupPolicy: aws.iam.Policy;

  constructor(name: string, args: StorageArgs, opts?: pulumi.ComponentResourceOptions) {
    super('switchboard:infra:Storage', name, {}, opts);
    const parent = { parent: this };
    const abortUploads = { daysAfterInitiation: 7 };

    const media = new PrivateBucket(
      `${name}-media`,
      {
        tags: { ...args.tags, data: 'media' },
        lifecycleRules: [
          { id: 'noncurrent-versions', status: 'Enabled', filter: {}, noncurrentVersionExpiration: { noncurrentDays: args.noncurrentVersionDays }, abortIncompleteMultipartUpload: abortUploads },
        ],
      },
      parent,
    );

    this.backupKey = new aws.kms.Key(
      `${name}-backup-key`,
      { description: `switchboard ${args.environment} backups`, enableKeyRotation: true, deletionWindowInDays: 30, tags: args.tags },
      parent,
    );
    new aws.kms.Alias(`${name}-backup-key-alias`, { name: `alias/switchboard-${args.environment}-backups`, targetKeyId: this.backupKey.keyId }, parent);

    const backups = new PrivateBucket(
      `${name}-backups`,
      {
        bucketName: args.backupBucketName,
        kmsKeyArn: this.backupKey.arn,
        tags: { ...args.tags, data: 'backups' },
        lifecycleRules: [
          {
            id: 'expire-old-backups',
            status: 'Enabled',
            filter: {},
            expiration: { days: args.backupRetentionDays },
            noncurrentVersionExpiration: { noncurrentDays: args.noncurrentVersionDays },
            abortIncompleteMultipartUpload: abortUploads,
          },
        ],
      },
      parent,
    );
    this.mediaBucket = media.bucket;
    this.backupBucket = backups.bucket;

    new aws.s3.BucketCorsConfiguration(`${name}-media-cors`, { bucket: media.bucket.id, corsRules: mediaCorsRules(args.corsOrigins) }, parent);
    new aws.s3.BucketPolicy(
      `${name}-media-policy`,
      { bucket: media.bucket.id, policy: pulumi.jsonStringify({ Version: '2012-10-17', Statement: [media.bucket.arn.apply(denyInsecureTransport)] }) },
      parent,
    );

    new aws.s3.BucketPolicy(
      `${name}-backups-policy`,
      { bucket: backups.bucket.id, policy: pulumi.jsonStringify({ Version: '2012-10-17', Statement: [backups.bucket.arn.apply(denyInsecureTransport)] }) },
      parent,
    );

    this.corePolicy = new aws.iam.Policy(
      `${name}-core-media`,
      {
        description: 'switchboard core: read and write media objects',
        policy: pulumi.jsonStringify({
          Version: '2012-10-17',
          Statement: [
            { Sid: 'MediaObjects', Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'], Resource: pulumi.interpolate`${media.bucket.arn}/*` },
            { Sid: 'MediaList', Effect: 'Allow', Action: ['s3:ListBucket'], Resource: media.bucket.arn },
          ],
        }),
        tags: args.tags,
      },
      parent,
    );

    // `ops backup` writes, lists, reads (verify, restore) and deletes (`ops backup prune`, the
    // retention policy); the lifecycle rule is the backstop that expires what prune missed.
    this.backupPolicy = new aws.iam.Policy(
      `${name}-ops-backup`,
      {
        description: 'switchboard ops backup: write, list, read and prune backups',
        policy: pulumi.jsonStringify({
          Version: '2012-10-17',
          Statement: [
            { Sid: 'BackupObjects', Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'], Resource: pulumi.interpolate`${backups.bucket.arn}/*` },
            { Sid: 'BackupList', Effect: 'Allow', Action: ['s3:ListBucket'], Resource: backups.bucket.arn },
            { Sid: 'BackupKey', Effect: 'Allow', Action: ['kms:GenerateDataKey', 'kms:Decrypt'], Resource: this.backupKey.arn },
          ],
        }),
        tags: args.tags,
      },
      parent,
    );
    this.registerOutputs({ mediaBucket: this.mediaBucket.id, backupBucket: this.backupBucket.id });
  }
}

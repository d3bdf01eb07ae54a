import type { PolicyResource } from '@pulumi/policy';
import { requiredTagKeys } from '../src/tags';
import { asArray, at, ofType, parseJson, resourceRule, stackRule, type SwitchboardPolicy } from './support';

/* eslint-disable @typescript-eslint/no-explicit-any -- rules read provider inputs and outputs, which are untyped JSON */

const S3 = 'aws:s3/bucket:Bucket';

/**
 * Resources of a type that configure a bucket: their `bucket` property depends on the bucket (the
 * engine records it), or equals the bucket's name (AWS's `bucket` output, which is also its id).
 */
function bucketCompanions(resources: PolicyResource[], type: string, bucket: PolicyResource): PolicyResource[] {
  return ofType(resources, type).filter((r) => (r.propertyDependencies?.bucket ?? []).some((d) => d.urn === bucket.urn) || (r.props.bucket !== undefined && r.props.bucket === bucket.props.bucket));
}

/** AWS and Atlas resource types that accept tags and must carry the standard set. */
export const taggedTypes = [
  S3,
  'aws:kms/key:Key',
  'aws:iam/policy:Policy',
  'aws:elasticache/replicationGroup:ReplicationGroup',
  'aws:elasticache/subnetGroup:SubnetGroup',
  'aws:cloudfront/distribution:Distribution',
  'aws:acm/certificate:Certificate',
  'aws:ec2/vpcEndpoint:VpcEndpoint',
  'mongodbatlas:index/project:Project',
  'mongodbatlas:index/advancedCluster:AdvancedCluster',
];

const replicationGroup = 'aws:elasticache/replicationGroup:ReplicationGroup';

/** S3, CloudFront, ACM, ElastiCache, IAM and tagging. */
export const awsPolicies: SwitchboardPolicy[] = [
  stackRule({
    name: 's3-public-access-blocked',
    anchor: 'issue 6 (storage); CIS AWS Foundations 2.1.4 / AWS Security Hub S3.8',
    description: 'Every bucket has a public access block with all four switches on.',
    check: (resources) =>
      ofType(resources, S3).flatMap((bucket) => {
        const blocks = bucketCompanions(resources, 'aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock', bucket);
        const ok = blocks.some((b) => b.props.blockPublicAcls && b.props.blockPublicPolicy && b.props.ignorePublicAcls && b.props.restrictPublicBuckets);
        return ok ? [] : [at(bucket, `bucket ${bucket.name} has no complete public access block`)];
      }),
  }),
  stackRule({
    name: 's3-owner-enforced',
    anchor: 'issue 6 (storage); AWS Security Hub S3.12 (ACLs disabled)',
    description: 'Every bucket has BucketOwnerEnforced ownership (ACLs disabled) and no ACL resources exist.',
    check: (resources) => [
      ...ofType(resources, S3).flatMap((bucket) =>
        bucketCompanions(resources, 'aws:s3/bucketOwnershipControls:BucketOwnershipControls', bucket).some((o) => o.props.rule?.objectOwnership === 'BucketOwnerEnforced')
          ? []
          : [at(bucket, `bucket ${bucket.name} does not enforce bucket-owner ownership`)],
      ),
      ...resources.filter((r) => r.type.startsWith('aws:s3/bucketAcl')).map((r) => at(r, `${r.name}: bucket ACLs are not used`)),
    ],
  }),
  stackRule({
    name: 's3-encrypted-at-rest',
    anchor: 'issue 6 (storage: SSE, KMS for backups); AWS Security Hub S3.4 / S3.17',
    description: 'Every bucket has default encryption; buckets tagged data=backups use aws:kms with a key.',
    check: (resources) =>
      ofType(resources, S3).flatMap((bucket) => {
        const rules = bucketCompanions(resources, 'aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration', bucket).flatMap(
          (c) => c.props.rules ?? [],
        );
        const defaults = rules.map((rule: any) => rule.applyServerSideEncryptionByDefault).filter(Boolean);
        if (defaults.length === 0) return [at(bucket, `bucket ${bucket.name} has no default encryption`)];
        if (bucket.props.tags?.data === 'backups' && !defaults.some((d: any) => d.sseAlgorithm === 'aws:kms' && d.kmsMasterKeyId)) {
          return [at(bucket, `backup bucket ${bucket.name} is not encrypted with a KMS key`)];
        }
        return [];
      }),
  }),
  stackRule({
    name: 's3-versioning-and-lifecycle',
    anchor: 'issue 6 (storage); AWS Security Hub S3.14 (versioning) and S3.13 (lifecycle)',
    description: 'Every bucket is versioned and expires noncurrent versions.',
    check: (resources) =>
      ofType(resources, S3).flatMap((bucket) => {
        const problems: string[] = [];
        if (!bucketCompanions(resources, 'aws:s3/bucketVersioning:BucketVersioning', bucket).some((v) => v.props.versioningConfiguration?.status === 'Enabled')) {
          problems.push(`bucket ${bucket.name} is not versioned`);
        }
        const rules = bucketCompanions(resources, 'aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration', bucket).flatMap((l) => l.props.rules ?? []);
        if (!rules.some((rule: any) => rule.status === 'Enabled' && rule.noncurrentVersionExpiration?.noncurrentDays > 0)) {
          problems.push(`bucket ${bucket.name} never expires noncurrent versions`);
        }
        return problems.map((p) => at(bucket, p));
      }),
  }),
  stackRule({
    name: 's3-deny-insecure-transport',
    anchor: 'CIS AWS Foundations 2.1.1 (v3.0) / AWS Security Hub S3.5',
    description: 'Every bucket policy denies requests without TLS (aws:SecureTransport false).',
    check: (resources) =>
      ofType(resources, S3).flatMap((bucket) => {
        const statements = bucketCompanions(resources, 'aws:s3/bucketPolicy:BucketPolicy', bucket).flatMap((p) => asArray(parseJson(p.props.policy)?.Statement));
        const ok = statements.some((s: any) => s.Effect === 'Deny' && s.Condition?.Bool?.['aws:SecureTransport'] === 'false');
        return ok ? [] : [at(bucket, `bucket ${bucket.name} accepts plain-HTTP requests`)];
      }),
  }),
  resourceRule({
    name: 's3-no-public-principal',
    anchor: 'issue 6 (CDN: bucket policy allows only CloudFront); AWS Security Hub S3.2 / S3.3',
    description: 'No bucket policy allows "*" principals; a service principal must be bound to a source ARN.',
    appliesTo: ['aws:s3/bucketPolicy:BucketPolicy'],
    check: (policy) =>
      asArray(parseJson(policy.props.policy)?.Statement)
        .filter((s: any) => s.Effect === 'Allow')
        .flatMap((s: any) => {
          const principal = s.Principal;
          if (principal === '*' || principal?.AWS === '*') return [`${policy.name}: allows any principal`];
          if (principal?.Service && !s.Condition?.StringEquals?.['AWS:SourceArn']) return [`${policy.name}: service principal without an AWS:SourceArn condition`];
          return [];
        }),
  }),
  stackRule({
    name: 's3-media-private',
    anchor: 'issue 21 (attachments: reads only through short-lived presigned GETs issued to current members)',
    description:
      'The media bucket (tag data=media) grants no read in its bucket policy (not even to a CDN), is the origin of no CloudFront distribution, and lets browsers in only from named https origins (CORS, never "*").',
    check: (resources) =>
      ofType(resources, S3)
        .filter((bucket) => bucket.props.tags?.data === 'media')
        .flatMap((bucket) => {
          const problems: string[] = [];
          // Any Allow here is a way to read the files besides the core's presigned GET (which uses its
          // IAM role, not the bucket policy): a public principal, a CDN's service principal, an account.
          const grants = bucketCompanions(resources, 'aws:s3/bucketPolicy:BucketPolicy', bucket)
            .flatMap((p) => asArray(parseJson(p.props.policy)?.Statement))
            .filter((s: any) => s.Effect === 'Allow' && asArray<string>(s.Action).some((a) => a === '*' || a === 's3:*' || a.startsWith('s3:Get')));
          if (grants.length) problems.push(`media bucket ${bucket.name}: its policy grants reads (${grants.map((s: any) => s.Sid ?? JSON.stringify(s.Principal)).join(', ')})`);
          // An origin on this bucket: recorded as a dependency by the engine, or named by its S3 domain.
          const onBucket = (d: PolicyResource) =>
            (d.propertyDependencies?.origins ?? []).some((dep) => dep.urn === bucket.urn) ||
            (d.props.origins ?? []).some((o: any) => typeof o.domainName === 'string' && o.domainName.startsWith(`${bucket.props.bucket}.s3.`));
          for (const d of ofType(resources, 'aws:cloudfront/distribution:Distribution')) {
            if (onBucket(d)) {
              problems.push(`media bucket ${bucket.name} is the origin of CloudFront distribution ${d.name}: anyone with a link reads the files`);
            }
          }
          const rules = bucketCompanions(resources, 'aws:s3/bucketCorsConfiguration:BucketCorsConfiguration', bucket).flatMap((c) => c.props.corsRules ?? []);
          if (rules.length === 0) problems.push(`media bucket ${bucket.name} has no CORS rule: browsers cannot PUT presigned uploads`);
          for (const rule of rules) {
            const origins = asArray<string>(rule.allowedOrigins);
            if (origins.length === 0 || origins.some((o) => o.includes('*') || !o.startsWith('https://'))) problems.push(`media bucket ${bucket.name}: CORS origins ${JSON.stringify(origins)} are not named https origins`);
          }
          return problems.map((p) => at(bucket, p));
        }),
  }),
  stackRule({
    name: 'cloudfront-origin-access-control',
    anchor: 'issue 6 (CDN: OAC, no OAI); AWS Security Hub CloudFront.13',
    description: 'S3 origins use an Origin Access Control that always signs with SigV4; no legacy OAI.',
    check: (resources) => [
      ...ofType(resources, 'aws:cloudfront/distribution:Distribution').flatMap((d) =>
        (d.props.origins ?? []).flatMap((origin: any) =>
          !origin.originAccessControlId || origin.s3OriginConfig?.originAccessIdentity ? [at(d, `${d.name}: origin ${origin.originId} is not behind an Origin Access Control`)] : [],
        ),
      ),
      ...ofType(resources, 'aws:cloudfront/originAccessControl:OriginAccessControl').flatMap((oac) =>
        oac.props.signingBehavior === 'always' && oac.props.signingProtocol === 'sigv4' ? [] : [at(oac, `${oac.name}: must always sign with sigv4`)],
      ),
      ...ofType(resources, 'aws:cloudfront/originAccessIdentity:OriginAccessIdentity').map((r) => at(r, `${r.name}: legacy Origin Access Identity`)),
    ],
  }),
  resourceRule({
    name: 'cloudfront-https-tls12',
    anchor: 'issue 6 (CDN: https-only, TLSv1.2_2021); AWS Security Hub CloudFront.3 (encryption in transit)',
    description: 'Viewers use HTTPS only, SNI with an ACM certificate and at least TLSv1.2_2021.',
    appliesTo: ['aws:cloudfront/distribution:Distribution'],
    check: (d) => {
      const problems: string[] = [];
      const behaviors = [d.props.defaultCacheBehavior, ...(d.props.orderedCacheBehaviors ?? [])];
      if (behaviors.some((b: any) => b?.viewerProtocolPolicy !== 'https-only')) problems.push(`${d.name}: a cache behavior allows plain HTTP`);
      const cert = d.props.viewerCertificate ?? {};
      if (!cert.acmCertificateArn || cert.cloudfrontDefaultCertificate) problems.push(`${d.name}: no ACM certificate`);
      if (cert.minimumProtocolVersion !== 'TLSv1.2_2021' && cert.minimumProtocolVersion !== 'TLSv1.2_2025') problems.push(`${d.name}: minimum TLS below TLSv1.2_2021`);
      if (cert.sslSupportMethod !== 'sni-only') problems.push(`${d.name}: not SNI-only`);
      return problems;
    },
  }),
  stackRule({
    name: 'acm-dns-validation',
    anchor: 'issue 6 (certificates: ACM validated by DNS; CloudFront certificate in us-east-1)',
    description: 'ACM certificates are DNS-validated; certificates for CloudFront live in us-east-1.',
    check: (resources) => [
      ...ofType(resources, 'aws:acm/certificate:Certificate')
        .filter((c) => c.props.validationMethod !== 'DNS')
        .map((c) => at(c, `${c.name}: not validated by DNS`)),
      ...ofType(resources, 'aws:cloudfront/distribution:Distribution')
        .filter((d) => typeof d.props.viewerCertificate?.acmCertificateArn === 'string' && !d.props.viewerCertificate.acmCertificateArn.startsWith('arn:aws:acm:us-east-1:'))
        .map((d) => at(d, `CloudFront certificate ${d.props.viewerCertificate.acmCertificateArn} is not in us-east-1`)),
    ],
  }),
  resourceRule({
    name: 'redis-encrypted',
    anchor: 'issue 6 (Redis: transit + at-rest encryption, auth token); AWS Security Hub ElastiCache.4 / .5 / .6',
    description: 'Replication groups require TLS in transit, encrypt at rest and use an AUTH token.',
    appliesTo: [replicationGroup],
    check: (g) => {
      const problems: string[] = [];
      if (g.props.transitEncryptionEnabled !== true || g.props.transitEncryptionMode !== 'required') problems.push(`${g.name}: TLS in transit is not required`);
      if (g.props.atRestEncryptionEnabled !== true) problems.push(`${g.name}: not encrypted at rest`);
      if (!g.props.authToken) problems.push(`${g.name}: no AUTH token`);
      return problems;
    },
  }),
  resourceRule({
    name: 'redis-snapshots',
    anchor: 'issue 6 (Redis: snapshots retained); AWS Security Hub ElastiCache.1',
    description: 'Replication groups keep automatic snapshots.',
    appliesTo: [replicationGroup],
    check: (g) => (g.props.snapshotRetentionLimit >= 1 ? [] : [`${g.name}: automatic snapshots are off`]),
  }),
  stackRule({
    name: 'redis-failover-in-production',
    anchor: 'issue 6 (Redis: failover + multi-AZ + ≥2 nodes in production); AWS Security Hub ElastiCache.3',
    description: 'In production, replication groups fail over automatically across AZs with at least two nodes.',
    check: (resources, context) => {
      const groups = ofType(resources, replicationGroup);
      if (groups.length === 0 || context().environment !== 'production') return [];
      return groups
        .filter((g) => !(g.props.automaticFailoverEnabled === true && g.props.multiAzEnabled === true && g.props.numCacheClusters >= 2))
        .map((g) => at(g, `${g.name}: no multi-AZ automatic failover with ≥ 2 nodes`));
    },
  }),
  resourceRule({
    name: 'iam-least-privilege',
    anchor: 'CIS AWS Foundations 1.16 (no *:* policies); AWS IAM best practices (least privilege)',
    description: 'IAM policies allow named actions on named resources: no wildcards.',
    appliesTo: ['aws:iam/policy:Policy'],
    check: (p) =>
      asArray(parseJson(p.props.policy)?.Statement)
        .filter((s: any) => s.Effect === 'Allow')
        .flatMap((s: any) => [
          ...asArray<string>(s.Action).filter((a) => a === '*' || a.endsWith(':*')).map((a) => `${p.name}: wildcard action ${a}`),
          ...asArray<string>(s.Resource).filter((r) => r === '*').map(() => `${p.name}: wildcard resource`),
        ]),
  }),
  stackRule({
    name: 'required-tags',
    anchor: 'issue 6 (required tags); AWS tagging best practices',
    description: `Taggable AWS and Atlas resources (the listed types, and any AWS resource given tags) carry ${requiredTagKeys.join(', ')}.`,
    check: (resources) =>
      resources
        .filter((r) => taggedTypes.includes(r.type) || (r.type.startsWith('aws:') && 'tags' in r.props))
        .flatMap((r) => {
          const missing = requiredTagKeys.filter((key) => !r.props.tags?.[key]);
          return missing.length ? [at(r, `${r.name}: missing tags ${missing.join(', ')}`)] : [];
        }),
  }),
];

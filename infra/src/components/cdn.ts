import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { AcmCertificate } from './certificates';
import { denyInsecureTransport } from './storage';

export interface CdnArgs {
  bucket: aws.s3.Bucket;
  domainName: string;
  zoneId: string;
  tags: Record<string, string>;
}

/** AWS-managed cache policy "CachingOptimized". */
export const cachingOptimizedPolicyId = '658327ea-f89d-4fab-a63d-7e88639e58f6';
/** AWS-managed response headers policy "SecurityHeadersPolicy" (HSTS, nosniff, frame options, XSS, referrer). */
export const securityHeadersPolicyId = '67f7725c-6f97-4210-82d7-5512b31e9d03';

/**
 * CloudFront in front of the media bucket: Origin Access Control (SigV4, no legacy OAI),
 * HTTPS only, TLS ≥ 1.2 (TLSv1.2_2021), ACM certificate in us-east-1 validated by DNS, and a
 * bucket policy that admits this distribution only.
 */
export class MediaCdn extends pulumi.ComponentResource {
  readonly distributionId: pulumi.Output<string>;
  readonly domainName: pulumi.Output<string>;

  constructor(name: string, args: CdnArgs, opts?: pulumi.ComponentResourceOptions) {
    super('switchboard:infra:MediaCdn', name, {}, opts);
    const parent = { parent: this };
    const certificate = new AcmCertificate(`${name}-cert`, { domainName: args.domainName, zoneId: args.zoneId, region: 'us-east-1', tags: args.tags }, parent);
    const oac = new aws.cloudfront.OriginAccessControl(
      `${name}-oac`,
      { description: 'switchboard media bucket', originAccessControlOriginType: 's3', signingBehavior: 'always', signingProtocol: 'sigv4' },
      parent,
    );
    const originId = 'media-bucket';
    const distribution = new aws.cloudfront.Distribution(
      `${name}-distribution`,
      {
        enabled: true,
        comment: 'switchboard media',
        aliases: [args.domainName],
        httpVersion: 'http2and3',
        isIpv6Enabled: true,
        priceClass: 'PriceClass_100',
        origins: [{ originId, domainName: args.bucket.bucketRegionalDomainName, originAccessControlId: oac.id }],
        defaultCacheBehavior: {
          targetOriginId: originId,
          viewerProtocolPolicy: 'https-only',
          allowedMethods: ['GET', 'HEAD', 'OPTIONS'],
          cachedMethods: ['GET', 'HEAD'],
          compress: true,
          cachePolicyId: cachingOptimizedPolicyId,
          responseHeadersPolicyId: securityHeadersPolicyId,
        },
        restrictions: { geoRestriction: { restrictionType: 'none' } },
        viewerCertificate: { acmCertificateArn: certificate.arn, sslSupportMethod: 'sni-only', minimumProtocolVersion: 'TLSv1.2_2021' },
        tags: args.tags,
      },
      parent,
    );
    new aws.s3.BucketPolicy(
      `${name}-bucket-policy`,
      {
        bucket: args.bucket.id,
        policy: pulumi.jsonStringify({
          Version: '2012-10-17',
          Statement: [
            {
              Sid: 'AllowCloudFrontOnly',
              Effect: 'Allow',
              Principal: { Service: 'cloudfront.amazonaws.com' },
              Action: 's3:GetObject',
              Resource: pulumi.interpolate`${args.bucket.arn}/*`,
              Condition: { StringEquals: { 'AWS:SourceArn': distribution.arn } },
            },
            args.bucket.arn.apply(denyInsecureTransport),
          ],
        }),
      },
      parent,
    );
    new aws.route53.Record(
      `${name}-alias`,
      { zoneId: args.zoneId, name: args.domainName, type: 'A', aliases: [{ name: distribution.domainName, zoneId: distribution.hostedZoneId, evaluateTargetHealth: false }] },
      parent,
    );
    this.distributionId = distribution.id;
    this.domainName = distribution.domainName;
    this.registerOutputs({ distributionId: this.distributionId, domainName: this.domainName });
  }
}

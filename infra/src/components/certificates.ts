import * as aws from '@pulumi/aws';
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { certManagerManifests, type CertManagerSpec } from '../k8s/edge-manifests';
import { createManifests } from '../k8s/resources';

/** The DNS record ACM asks for (one domain per certificate here). */
export function firstValidationOption<T>(options: T[], domainName: string): T {
  const first = options[0];
  if (!first) throw new Error(`ACM returned no DNS validation option for ${domainName}`);
  return first;
}

export interface AcmCertificateArgs {
  domainName: string;
  zoneId: string;
  /** AWS region of the certificate; CloudFront requires us-east-1. */
  region: string;
  tags: Record<string, string>;
}

/** An ACM certificate validated by DNS (Route 53 records), usable once `arn` resolves. */
export class AcmCertificate extends pulumi.ComponentResource {
  /** ARN of the certificate after validation succeeded. */
  readonly arn: pulumi.Output<string>;

  constructor(name: string, args: AcmCertificateArgs, opts?: pulumi.ComponentResourceOptions) {
    super('switchboard:infra:AcmCertificate', name, {}, opts);
    const certificate = new aws.acm.Certificate(
      `${name}-cert`,
      { domainName: args.domainName, validationMethod: 'DNS', keyAlgorithm: 'EC_prime256v1', region: args.region, tags: args.tags },
      { parent: this },
    );
    const option = certificate.domainValidationOptions.apply((options) => firstValidationOption(options, args.domainName));
    const record = new aws.route53.Record(
      `${name}-validation`,
      { zoneId: args.zoneId, name: option.resourceRecordName, type: option.resourceRecordType, records: [option.resourceRecordValue], ttl: 300, allowOverwrite: true },
      { parent: this },
    );
    const validation = new aws.acm.CertificateValidation(
      `${name}-validation`,
      { certificateArn: certificate.arn, validationRecordFqdns: [record.fqdn], region: args.region },
      { parent: this },
    );
    this.arn = validation.certificateArn;
    this.registerOutputs({ arn: this.arn });
  }
}

export interface ClusterCertificatesArgs {
  spec: CertManagerSpec;
  provider?: k8s.Provider;
  /** Resources the objects wait for (the app's namespace). */
  dependsOn?: pulumi.Resource[];
}

/** cert-manager ClusterIssuer (Let's Encrypt) and the Certificate of the public host, in the cluster. */
export class ClusterCertificates extends pulumi.ComponentResource {
  readonly secretName: string;

  constructor(name: string, args: ClusterCertificatesArgs, opts?: pulumi.ComponentResourceOptions) {
    super('switchboard:infra:ClusterCertificates', name, {}, opts);
    createManifests(name, certManagerManifests(args.spec), { parent: this, provider: args.provider, dependsOn: args.dependsOn });
    this.secretName = args.spec.secretName;
    this.registerOutputs({ secretName: this.secretName });
  }
}

import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { certManagerManifests, type CertManagerSpec } from '../k8s/edge-manifests';
import { createManifests } from '../k8s/resources';

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

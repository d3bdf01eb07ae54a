import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

export interface WorkloadRoleArgs {
  /** Fixed role name (its ARN is annotated on the ServiceAccount before the role exists). */
  roleName: string;
  /** The cluster's IAM OIDC provider: ARN and issuer (without https://). */
  oidcProviderArn: string;
  oidcProviderUrl: string;
  /** The one ServiceAccount allowed to assume the role. */
  namespace: string;
  serviceAccount: string;
  policyArn: pulumi.Input<string>;
  tags: Record<string, string>;
}

/** Trust policy of an IRSA role: web identities from the cluster's OIDC issuer, for one ServiceAccount only. */
export function irsaTrustPolicy(args: Pick<WorkloadRoleArgs, 'oidcProviderArn' | 'oidcProviderUrl' | 'namespace' | 'serviceAccount'>) {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { Federated: args.oidcProviderArn },
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: {
          StringEquals: {
            [`${args.oidcProviderUrl}:sub`]: `system:serviceaccount:${args.namespace}:${args.serviceAccount}`,
            [`${args.oidcProviderUrl}:aud`]: 'sts.amazonaws.com',
          },
        },
      },
    ],
  };
}

/** An IAM role for one Kubernetes ServiceAccount (IRSA) with one managed policy attached. */
export class WorkloadRole extends pulumi.ComponentResource {
  readonly role: aws.iam.Role;

  constructor(name: string, args: WorkloadRoleArgs, opts?: pulumi.ComponentResourceOptions) {
    super('switchboard:infra:WorkloadRole', name, {}, opts);
    this.role = new aws.iam.Role(
      name,
      {
        name: args.roleName,
        description: `IRSA role of ${args.namespace}/${args.serviceAccount}`,
        assumeRolePolicy: JSON.stringify(irsaTrustPolicy(args)),
        maxSessionDuration: 3600,
        tags: args.tags,
      },
      { parent: this },
    );
    new aws.iam.RolePolicyAttachment(`${name}-policy`, { role: this.role.name, policyArn: args.policyArn }, { parent: this });
    this.registerOutputs({ roleArn: this.role.arn });
  }
}

import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import type { StackConfig } from '../config';

export interface RedisArgs {
  environment: StackConfig['environment'];
  redis: StackConfig['redis'];
  subnetIds: string[];
  securityGroupIds: string[];
  authToken: pulumi.Input<string>;
  tags: Record<string, string>;
}

/**
 * ElastiCache (Redis OSS engine) replication group: TLS required in transit, encrypted at rest,
 * AUTH token, snapshots kept; failover, multi-AZ and ≥ 2 nodes wherever the config asks (always in production).
 */
export class RedisCache extends pulumi.ComponentResource {
  /** rediss:// URL with the AUTH token (secret). */
  readonly url: pulumi.Output<string>;
  readonly primaryEndpoint: pulumi.Output<string>;

  constructor(name: string, args: RedisArgs, opts?: pulumi.ComponentResourceOptions) {
    super('switchboard:infra:RedisCache', name, {}, opts);
    const { redis } = args;
    const subnets = new aws.elasticache.SubnetGroup(
      `${name}-subnets`,
      { description: `switchboard ${args.environment} redis`, subnetIds: args.subnetIds, tags: args.tags },
      { parent: this },
    );
    const group = new aws.elasticache.ReplicationGroup(
      `${name}-group`,
      {
        description: `switchboard ${args.environment}: Socket.IO adapter, presence, rate limits, maintenance flag`,
        engine: 'redis',
        engineVersion: redis.engineVersion,
        nodeType: redis.nodeType,
        port: 6379,
        numCacheClusters: redis.numCacheClusters,
        automaticFailoverEnabled: redis.automaticFailover,
        multiAzEnabled: redis.multiAz,
        subnetGroupName: subnets.name,
        securityGroupIds: args.securityGroupIds,
        transitEncryptionEnabled: true,
        transitEncryptionMode: 'required',
        atRestEncryptionEnabled: true,
        authToken: pulumi.secret(args.authToken),
        authTokenUpdateStrategy: 'ROTATE',
        snapshotRetentionLimit: redis.snapshotRetentionDays,
        snapshotWindow: '02:00-03:00',
        maintenanceWindow: 'sun:04:00-sun:05:00',
        autoMinorVersionUpgrade: true,
        applyImmediately: args.environment !== 'production',
        finalSnapshotIdentifier: `switchboard-${args.environment}-final`,
        tags: args.tags,
      },
      { parent: this },
    );
    this.primaryEndpoint = group.primaryEndpointAddress;
    this.url = pulumi.secret(pulumi.interpolate`rediss://:${pulumi.output(args.authToken).apply(encodeURIComponent)}@${group.primaryEndpointAddress}:6379`);
    this.registerOutputs({ url: this.url, primaryEndpoint: this.primaryEndpoint });
  }
}

import * as mongodbatlas from '@pulumi/mongodbatlas';
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import type { StackConfig } from '../config';

export interface AtlasArgs {
  environment: StackConfig['environment'];
  atlas: StackConfig['atlas'];
  /** VPC, subnets and security groups of the PrivateLink endpoint (used when atlas.privateEndpoint). */
  network: Pick<StackConfig['aws'], 'vpcId' | 'privateSubnetIds' | 'dataSecurityGroupIds' | 'region'>;
  databaseName: string;
  dbPassword: pulumi.Input<string>;
  tags: Record<string, string>;
}

/** Roles the core's database user gets: its own database, read and write, nothing else. */
export const coreUserRoles = (databaseName: string) => [{ roleName: 'readWrite', databaseName }];

/**
 * MongoDB Atlas: project, dedicated replica set (TLS ≥ 1.2, backups; PITR and termination
 * protection in production), backup schedule matching the RPO, a least-privilege user scoped
 * to the cluster, and either an IP access list or an AWS PrivateLink endpoint.
 */
export class AtlasDatabase extends pulumi.ComponentResource {
  readonly projectId: pulumi.Output<string>;
  readonly clusterName: pulumi.Output<string>;
  /** mongodb+srv:// URI with the core user's credentials (secret). */
  readonly connectionString: pulumi.Output<string>;

  constructor(name: string, args: AtlasArgs, opts?: pulumi.ComponentResourceOptions) {
    super('switchboard:infra:AtlasDatabase', name, {}, opts);
    const { atlas } = args;
    const production = args.environment === 'production';

    const project = new mongodbatlas.Project(`${name}-project`, { orgId: atlas.orgId, name: `switchboard-${args.environment}`, tags: args.tags }, { parent: this });

    const cluster = new mongodbatlas.AdvancedCluster(
      `${name}-cluster`,
      {
        projectId: project.id,
        name: `switchboard-${args.environment}`,
        clusterType: 'REPLICASET',
        mongoDbMajorVersion: atlas.mongoVersion,
        backupEnabled: true,
        pitEnabled: atlas.pointInTimeRecovery,
        terminationProtectionEnabled: atlas.terminationProtection,
        retainBackupsEnabled: production,
        replicationSpecs: [
          {
            regionConfigs: [
              { providerName: 'AWS', regionName: atlas.region, priority: 7, electableSpecs: { instanceSize: atlas.instanceSize, nodeCount: 3 } },
            ],
          },
        ],
        advancedConfiguration: { minimumEnabledTlsProtocol: 'TLS1_2', javascriptEnabled: false },
        tags: args.tags,
      },
      { parent: this, protect: production },
    );

    new mongodbatlas.CloudBackupSchedule(
      `${name}-backups`,
      {
        projectId: project.id,
        clusterName: cluster.name,
        referenceHourOfDay: 3,
        referenceMinuteOfHour: 0,
        restoreWindowDays: atlas.restoreWindowDays,
        policyItemHourly: { frequencyInterval: atlas.rpoHours, retentionUnit: 'days', retentionValue: 2 },
        policyItemDaily: { frequencyInterval: 1, retentionUnit: 'days', retentionValue: atlas.dailyRetentionDays },
        policyItemWeeklies: [{ frequencyInterval: 6, retentionUnit: 'weeks', retentionValue: 4 }],
        policyItemMonthlies: production ? [{ frequencyInterval: 40, retentionUnit: 'months', retentionValue: 12 }] : [],
      },
      { parent: this },
    );

    const user = new mongodbatlas.DatabaseUser(
      `${name}-core-user`,
      {
        projectId: project.id,
        username: `switchboard-core-${args.environment}`,
        password: args.dbPassword,
        authDatabaseName: 'admin',
        roles: coreUserRoles(args.databaseName),
        scopes: [{ name: cluster.name, type: 'CLUSTER' }],
        labels: [{ key: 'app', value: 'switchboard' }],
      },
      { parent: this },
    );

    atlas.accessList.forEach((cidrBlock, index) => {
      new mongodbatlas.ProjectIpAccessList(`${name}-access-${index}`, { projectId: project.id, cidrBlock, comment: 'cluster egress (switchboard core)' }, { parent: this });
    });

    if (atlas.privateEndpoint) {
      const endpoint = new mongodbatlas.PrivateLinkEndpoint(`${name}-privatelink`, { projectId: project.id, providerName: 'AWS', region: args.network.region }, { parent: this });
      const vpcEndpoint = new aws.ec2.VpcEndpoint(
        `${name}-vpce`,
        {
          vpcId: args.network.vpcId,
          serviceName: endpoint.endpointServiceName,
          vpcEndpointType: 'Interface',
          subnetIds: args.network.privateSubnetIds,
          securityGroupIds: args.network.dataSecurityGroupIds,
          tags: args.tags,
        },
        { parent: this },
      );
      new mongodbatlas.PrivateLinkEndpointService(
        `${name}-privatelink-service`,
        { projectId: project.id, privateLinkId: endpoint.privateLinkId, endpointServiceId: vpcEndpoint.id, providerName: 'AWS' },
        { parent: this },
      );
    }

    const host = cluster.connectionStrings.apply((strings) => {
      const srv = atlas.privateEndpoint ? strings.privateEndpoints?.[0]?.srvConnectionString : strings.standardSrv;
      return (srv ?? '').replace(/^mongodb\+srv:\/\//, '');
    });
    this.projectId = project.id;
    this.clusterName = cluster.name;
    this.connectionString = pulumi.secret(
      pulumi.interpolate`mongodb+srv://${user.username}:${pulumi.output(args.dbPassword).apply(encodeURIComponent)}@${host}/${args.databaseName}?retryWrites=true&w=majority&tls=true`,
    );
    this.registerOutputs({ projectId: this.projectId, clusterName: this.clusterName, connectionString: this.connectionString });
  }
}

import { policyContext } from '../policy/context';
import { buildStack } from '../src/stack';
import { installMocks, ofType, settle, valueOf, type MockedProgram, shutdownMocks } from './helpers/mocks';
import { stackConfigFromFile } from '../render';
import { asRendered, checkStack } from './helpers/policy';
import { allEnvironments, stackConfig, testSecrets } from './helpers/stacks';
import type { Environment } from '../src/config';

afterAll(shutdownMocks);

const observability = {
  ruleGroups: [{ name: 'switchboard-availability', rules: [{ alert: 'SwitchboardDown', expr: 'up == 0', for: '5m' }] }],
  dashboards: [{ slug: 'overview', file: 'dashboards/overview.json', json: '{"title":"Overview","panels":[]}' }],
};

const programs = new Map<Environment, { program: MockedProgram; outputs: ReturnType<typeof buildStack> }>();

beforeAll(async () => {
  for (const environment of allEnvironments) {
    const program = installMocks(environment);
    const outputs = buildStack(stackConfig(environment), testSecrets(), observability);
    await settle();
    programs.set(environment, { program, outputs });
  }
});

function programOf(environment: Environment): MockedProgram {
  const entry = programs.get(environment);
  if (!entry) throw new Error(`no program for ${environment}`);
  return entry.program;
}

describe.each(allEnvironments)('the %s stack', (environment) => {
  test('passes every policy of the pack', async () => {
    expect((await checkStack(asRendered(programOf(environment).resources), policyContext(stackConfig(environment)))).violations).toEqual([]);
  });

  test('creates every component once', () => {
    const types = programOf(environment).resources.map((r) => r.type);
    for (const component of ['AtlasDatabase', 'RedisCache', 'Storage', 'SwitchboardApp', 'ClusterCertificates', 'Edge']) {
      expect(types.filter((t) => t === `switchboard:infra:${component}`)).toHaveLength(1);
    }
    expect(types.filter((t) => t === 'aws:s3/bucket:Bucket')).toHaveLength(2);
  });

  test('passes credentials to the app only as secrets', () => {
    const program = programOf(environment);
    // The core's Secret; the AlertmanagerConfig's receivers (issue 22) are in a Secret of their own, secret too.
    const secrets = ofType(program, 'kubernetes:core/v1:Secret');
    const secret = secrets.find((r) => (r.inputs.metadata as { name?: string })?.name === 'switchboard-secrets');
    expect(secrets.map((r) => r.secretPaths.includes('stringData'))).toEqual(secrets.map(() => true));
    expect(secret?.secretPaths).toContain('stringData');
    // The webhook signing key only where notifications are configured (production's stack file).
    const webhook = stackConfig(environment).app.notifications.webhookUrl ? ['NOTIFICATION_WEBHOOK_SECRET'] : [];
    expect(Object.keys(secret?.inputs.stringData ?? {}).sort()).toEqual(['JWT_HS256_KEYS', 'MONGODB_URI', ...webhook, 'REDIS_URL']);
    expect(secret?.inputs.stringData.MONGODB_URI).toMatch(/^mongodb\+srv:\/\/switchboard-core-[a-z]+:[^@]+@.+\/switchboard\?/);
    expect(secret?.inputs.stringData.REDIS_URL).toMatch(/^rediss:\/\/:[^@]+@master\./);
    const [group] = ofType(program, 'aws:elasticache/replicationGroup:ReplicationGroup');
    expect(group?.secretPaths).toContain('authToken');
    const [user] = ofType(program, 'mongodbatlas:index/databaseUser:DatabaseUser');
    expect(user?.secretPaths).toContain('password');
    const plain = JSON.stringify(ofType(program, 'kubernetes:core/v1:ConfigMap').map((c) => c.inputs));
    expect(plain).not.toContain('correct-horse');
    expect(plain).not.toContain('redis-auth-token');
  });

  test('creates the backup bucket with the committed switchboard:backup.bucket, and the CronJobs write under it', () => {
    const name = stackConfig(environment).backup?.bucket;
    expect(name).toMatch(new RegExp(`^switchboard-${environment}-backups-\\d{12}$`));
    const bucket = ofType(programOf(environment), 'aws:s3/bucket:Bucket').find((b) => b.name === 'storage-backups');
    expect(bucket?.inputs.bucket).toBe(name);
    const locations = ofType(programOf(environment), 'kubernetes:batch/v1:CronJob')
      .filter((c) => c.inputs.metadata.labels?.['app.kubernetes.io/component'] === 'backup')
      .map((c) => (c.inputs.spec.jobTemplate.spec.template.spec.containers[0].env as { name: string; value?: string }[]).find((e) => e.name === 'BACKUP_LOCATION')?.value);
    expect(locations).toEqual([`s3://${name}/${environment}`, `s3://${name}/${environment}`]);
  });

  test('exports the outputs an operator needs', async () => {
    const outputs = programs.get(environment)?.outputs;
    expect(await valueOf(outputs!.mongoClusterName)).toBe(`switchboard-${environment}`);
    expect(await valueOf(outputs!.redisEndpoint)).toMatch(/cache\.amazonaws\.com$/);
    expect(outputs!.appHost).toBe(stackConfig(environment).edge.host);
  });
});

describe('differences between environments', () => {
  const deployment = (environment: Environment) => ofType(programOf(environment), 'kubernetes:apps/v1:Deployment')[0]?.inputs;
  const cluster = (environment: Environment) => ofType(programOf(environment), 'mongodbatlas:index/advancedCluster:AdvancedCluster')[0]?.inputs;

  test('production: PITR, termination protection, private endpoint, 3 Redis nodes, 3 replicas', () => {
    expect(cluster('production')).toMatchObject({ pitEnabled: true, terminationProtectionEnabled: true, backupEnabled: true });
    expect(ofType(programOf('production'), 'mongodbatlas:index/privateLinkEndpointService:PrivateLinkEndpointService')).toHaveLength(1);
    expect(ofType(programOf('production'), 'mongodbatlas:index/projectIpAccessList:ProjectIpAccessList')).toHaveLength(0);
    expect(ofType(programOf('production'), 'aws:elasticache/replicationGroup:ReplicationGroup')[0]?.inputs).toMatchObject({ numCacheClusters: 3, multiAzEnabled: true });
    expect(deployment('production')?.spec.replicas).toBe(3);
    const monthly = ofType(programOf('production'), 'mongodbatlas:index/cloudBackupSchedule:CloudBackupSchedule')[0]?.inputs.policyItemMonthlies;
    expect(monthly).toHaveLength(1);
  });

  test('dev: no PITR, one Redis node, an IP access list, JWT keys from the secret', () => {
    expect(cluster('dev')).toMatchObject({ pitEnabled: false, terminationProtectionEnabled: false, backupEnabled: true });
    expect(ofType(programOf('dev'), 'mongodbatlas:index/projectIpAccessList:ProjectIpAccessList').map((e) => e.inputs.cidrBlock)).toEqual(['203.0.113.10/32']);
    expect(ofType(programOf('dev'), 'aws:elasticache/replicationGroup:ReplicationGroup')[0]?.inputs).toMatchObject({ numCacheClusters: 1, automaticFailoverEnabled: false });
    expect(ofType(programOf('dev'), 'kubernetes:core/v1:ConfigMap').find((c) => c.inputs.data?.APP_ENV)?.inputs.data.APP_ENV).toBe('development');
  });

  test('the policies catch what the production rules would not allow in dev', async () => {
    const devResources = asRendered(programOf('dev').resources);
    const rules = (await checkStack(devResources, { ...policyContext(stackConfig('dev')), environment: 'production' })).mandatory.map((v) => v.policy);
    expect(new Set(rules)).toEqual(new Set(['redis-failover-in-production', 'atlas-pitr-and-protection-in-production', 'k8s-replicas-in-production']));
  });
});

test('a stack without JWKS or HS256 keys is refused (the core would fall back to its development key)', () => {
  installMocks('no-auth');
  const secrets = testSecrets();
  delete secrets.jwtHs256Keys;
  expect(() => buildStack(stackConfig('dev'), secrets, observability)).toThrow(/jwtJwksUrl or the secret switchboard:jwtHs256Keys/);
});

test('the local-k8s stack (the one ops deploy runs through the engine with the pack, issue 25) passes every policy of the pack', async () => {
  const program = installMocks('local-k8s');
  const config = stackConfigFromFile('local-k8s' as Environment);
  const outputs = buildStack(config, testSecrets(), observability);
  await settle();
  expect(outputs.policyContext).toEqual(policyContext(config));
  expect((await checkStack(asRendered(program.resources), outputs.policyContext)).violations).toEqual([]);
});

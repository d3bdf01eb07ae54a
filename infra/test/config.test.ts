import * as pulumi from '@pulumi/pulumi';
import { parseStackConfig, readStackConfig, readStackSecrets, terminationGraceSeconds, type ProductionConfig, type StackConfig } from '../src/config';
import { allEnvironments, rawStackConfig, stackConfig } from './helpers/stacks';

function production(): Record<string, any> {
  return structuredClone(rawStackConfig('production'));
}

function problemsOf(raw: unknown): string {
  try {
    parseStackConfig(raw);
    return '';
  } catch (error) {
    return (error as Error).message;
  }
}

describe('stack configuration', () => {
  test.each(allEnvironments)('Pulumi.%s.yaml parses into a typed config for its environment', (environment) => {
    const config = stackConfig(environment);
    expect(config.environment).toBe(environment);
    expect(config.app.maxReplicas).toBeGreaterThanOrEqual(config.app.minReplicas);
  });

  test('defaults come from the schema (`??`-style: only for absent keys)', () => {
    const config = stackConfig('dev');
    expect(config.app.shutdownDrainMs).toBe(10_000);
    expect(config.edge.longPolling).toBe(true);
    expect(config.atlas.pointInTimeRecovery).toBe(false);
    expect(config.atlas.rpoHours).toBe(12);
  });

  test('production settings are literal types: a production config without them does not type-check', () => {
    const valid = stackConfig('production') as ProductionConfig;
    // @ts-expect-error PITR is `true` in the production type
    const withoutPitr: ProductionConfig = { ...valid, atlas: { ...valid.atlas, pointInTimeRecovery: false } };
    // @ts-expect-error automatic failover is `true` in the production type
    const withoutFailover: ProductionConfig = { ...valid, redis: { ...valid.redis, automaticFailover: false } };
    // A non-production config may turn them off.
    const dev: StackConfig = { ...stackConfig('dev'), environment: 'dev' };
    expect([withoutPitr.atlas.pointInTimeRecovery, withoutFailover.redis.automaticFailover, dev.atlas.terminationProtection]).toEqual([false, false, false]);
  });

  test.each([
    ['atlas.pointInTimeRecovery', (c: any) => (c.atlas.pointInTimeRecovery = false)],
    ['atlas.terminationProtection', (c: any) => delete c.atlas.terminationProtection],
    ['atlas.privateEndpoint', (c: any) => (c.atlas.privateEndpoint = false)],
    ['redis.numCacheClusters', (c: any) => (c.redis.numCacheClusters = 1)],
    ['redis.multiAz', (c: any) => (c.redis.multiAz = false)],
    ['app.minReplicas', (c: any) => (c.app.minReplicas = 1)],
    ['app.image', (c: any) => (c.app.image = 'ghcr.io/example/switchboard-core:latest')],
    ['app.jwtJwksUrl', (c: any) => delete c.app.jwtJwksUrl],
  ])('production refuses a config that weakens %s', (path, weaken) => {
    const raw = production();
    weaken(raw);
    expect(problemsOf(raw)).toContain(`switchboard:${path}`);
  });

  test('no environment accepts an open access list', () => {
    const raw = rawStackConfig('dev') as any;
    raw.atlas.accessList = ['0.0.0.0/0'];
    expect(problemsOf(raw)).toMatch(/switchboard:atlas.accessList.0: open access lists/);
  });

  test('errors list every problem with its key', () => {
    const message = problemsOf({ environment: 'dev' });
    for (const key of ['aws', 'atlas', 'redis', 'app', 'edge', 'tags']) expect(message).toContain(`switchboard:${key}`);
    expect(problemsOf({ environment: 'qa' })).toContain('switchboard:environment');
  });

  test('every stack that provisions AWS names its backup bucket (switchboard:backup.bucket); a local stack needs none', () => {
    for (const environment of allEnvironments) {
      const raw = rawStackConfig(environment) as any;
      delete raw.backup;
      expect(problemsOf(raw)).toContain('switchboard:backup.bucket: required');
    }
    const local = rawStackConfig('dev') as any;
    delete local.backup;
    local.local = { mongodbUri: 'mongodb://mongo.invalid:27017/switchboard', redisUrl: 'redis://redis.invalid:6379' };
    expect(problemsOf(local)).toBe('');
    const malformed = rawStackConfig('staging') as any;
    malformed.backup.bucket = 'Switchboard_Backups';
    expect(problemsOf(malformed)).toContain('switchboard:backup.bucket: an S3 bucket name');
  });

  test('failover without a second node is refused in any environment', () => {
    const raw = rawStackConfig('staging') as any;
    raw.redis.numCacheClusters = 1;
    expect(problemsOf(raw)).toContain('automatic failover needs ≥ 2 nodes');
  });

  test('termination grace is preStop + drain + margin', () => {
    const app = stackConfig('production').app;
    expect(terminationGraceSeconds(app)).toBe(5 + 10 + 5);
    expect(terminationGraceSeconds({ ...app, shutdownDrainMs: 30_000, preStopSleepSeconds: 10 })).toBe(45);
  });

  test('readStackConfig reads the Pulumi config namespace `switchboard` and secrets stay secret', async () => {
    const raw = rawStackConfig('staging');
    const values: Record<string, string> = {};
    for (const [key, value] of Object.entries(raw)) values[`switchboard:${key}`] = typeof value === 'string' ? value : JSON.stringify(value);
    values['switchboard:atlasDbPassword'] = 'p'.repeat(30);
    values['switchboard:redisAuthToken'] = 't'.repeat(32);
    // The Alertmanager receivers (issue 22) are required of every stack: without them readStackSecrets refuses.
    pulumi.runtime.setAllConfig(values, ['switchboard:atlasDbPassword', 'switchboard:redisAuthToken']);
    expect(() => readStackSecrets()).toThrow(/alertPagerdutyRoutingKey/);
    values['switchboard:alertPagerdutyRoutingKey'] = 'pagerduty-routing-key-0123456789abcdef';
    values['switchboard:alertSlackWebhookUrl'] = 'https://hooks.slack.com/services/T000/B000/secret';
    pulumi.runtime.setAllConfig(values, ['switchboard:atlasDbPassword', 'switchboard:redisAuthToken', 'switchboard:alertPagerdutyRoutingKey', 'switchboard:alertSlackWebhookUrl']);
    try {
      expect(readStackConfig()).toEqual(stackConfig('staging'));
      const secrets = readStackSecrets();
      expect(pulumi.Output.isInstance(secrets.atlasDbPassword)).toBe(true);
      expect(await (secrets.atlasDbPassword as any).isSecret).toBe(true);
      expect(await (secrets.alertSlackWebhookUrl as any).isSecret).toBe(true);
      expect(secrets.jwtHs256Keys).toBeUndefined();
    } finally {
      pulumi.runtime.setAllConfig({});
    }
  });

  test('readStackSecrets names the missing secret', () => {
    pulumi.runtime.setAllConfig({});
    expect(() => readStackSecrets()).toThrow(/atlasDbPassword/);
  });
});

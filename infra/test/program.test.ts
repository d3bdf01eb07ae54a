import path from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { policyContext, runPolicies } from '../src/policies/rules';
import { installMocks, settle, valueOf, shutdownMocks } from './helpers/mocks';
import { rawStackConfig, stackConfig } from './helpers/stacks';

afterAll(shutdownMocks);

/**
 * The Pulumi entry point (infra/index.ts) as `pulumi up --stack production` runs it: config and
 * secrets from the Pulumi config, resources registered, outputs exported.
 */
test('index.ts builds the production stack from Pulumi config and exports its outputs', async () => {
  const program = installMocks('production');
  const values: Record<string, string> = {};
  for (const [key, value] of Object.entries(rawStackConfig('production'))) values[`switchboard:${key}`] = typeof value === 'string' ? value : JSON.stringify(value);
  Object.assign(values, {
    'switchboard:atlasDbPassword': 'a'.repeat(32),
    'switchboard:redisAuthToken': 'r'.repeat(32),
    'switchboard:sentryDsn': 'https://public@sentry.example.com/1',
  });
  pulumi.runtime.setAllConfig(values, ['switchboard:atlasDbPassword', 'switchboard:redisAuthToken', 'switchboard:sentryDsn']);

  const entry = (await import(path.join(__dirname, '..', 'index'))) as Record<string, pulumi.Output<string> | string>;
  await settle();

  expect(Object.keys(entry).sort()).toEqual(['appHost', 'backupBucket', 'backupPolicyArn', 'coreMediaPolicyArn', 'mediaBucket', 'mediaCdnDomain', 'mongoClusterName', 'redisEndpoint']);
  expect(await valueOf(entry.mongoClusterName as pulumi.Output<string>)).toBe('switchboard-production');
  expect(runPolicies(program.resources, policyContext(stackConfig('production')))).toEqual([]);
  const secret = program.resources.find((r) => r.type === 'kubernetes:core/v1:Secret');
  // Production authenticates with JWKS only: no HS256 keys, and the DSN comes from the secret config.
  expect(secret?.inputs.stringData).toMatchObject({ JWT_HS256_KEYS: '', SENTRY_DSN: 'https://public@sentry.example.com/1' });
});

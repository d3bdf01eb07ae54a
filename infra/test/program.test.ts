import path from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { policyContext, type PolicyContext } from '../policy/context';
import { installMocks, settle, valueOf, shutdownMocks } from './helpers/mocks';
import { asRendered, checkStack } from './helpers/policy';
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
    'switchboard:notificationWebhookSecret': 'w'.repeat(32),
    'switchboard:alertPagerdutyRoutingKey': 'p'.repeat(32),
    'switchboard:alertSlackWebhookUrl': 'https://hooks.slack.com/services/T000/B000/secret',
  });
  pulumi.runtime.setAllConfig(values, ['switchboard:atlasDbPassword', 'switchboard:redisAuthToken', 'switchboard:sentryDsn', 'switchboard:notificationWebhookSecret', 'switchboard:alertPagerdutyRoutingKey', 'switchboard:alertSlackWebhookUrl']);

  const entry = (await import(path.join(__dirname, '..', 'index'))) as Record<string, pulumi.Output<string> | string>;
  await settle();

  expect(Object.keys(entry).sort()).toEqual(['appHost', 'backupBucket', 'backupPolicyArn', 'coreMediaPolicyArn', 'mediaBucket', 'mongoClusterName', 'policyContext', 'redisEndpoint']);
  expect(await valueOf(entry.mongoClusterName as pulumi.Output<string>)).toBe('switchboard-production');
  // The policy pack reads the stack's context from this output (the engine hands it to stack policies).
  expect(entry.policyContext).toEqual(policyContext(stackConfig('production')));
  expect((await checkStack(asRendered(program.resources), entry.policyContext as unknown as PolicyContext)).violations).toEqual([]);
  // The core's Secret (the AlertmanagerConfig's receivers have their own, switchboard-alert-receivers).
  const secret = program.resources.find((r) => r.type === 'kubernetes:core/v1:Secret' && (r.inputs.metadata as { name?: string })?.name === 'switchboard-secrets');
  // Production authenticates with JWKS only: no HS256 keys, and the DSN comes from the secret config.
  expect(secret?.inputs.stringData).toMatchObject({ JWT_HS256_KEYS: '', SENTRY_DSN: 'https://public@sentry.example.com/1', NOTIFICATION_WEBHOOK_SECRET: 'w'.repeat(32) });
  // Config is part of a release: the pod template carries the checksum of the ConfigMap and Secret (resolved from outputs).
  const deployment = program.resources.find((r) => r.type === 'kubernetes:apps/v1:Deployment' && (r.inputs.metadata as { name?: string })?.name === 'switchboard-core');
  expect((deployment?.inputs.spec as any).template.metadata.annotations['switchboard.dev/config-checksum']).toMatch(/^[a-f0-9]{64}$/);
  // Everything in the cluster goes through the stack's own provider (its kubeconfig context).
  const provider = program.resources.find((r) => r.type === 'pulumi:providers:kubernetes');
  expect(provider?.inputs).toMatchObject({ context: 'switchboard-production' });
  const k8sResources = program.resources.filter((r) => r.type.startsWith('kubernetes:'));
  expect(k8sResources.length).toBeGreaterThan(10);
  expect(k8sResources.filter((r) => !r.provider?.includes('pulumi:providers:kubernetes::cluster')).map((r) => `${r.type} ${r.name}`)).toEqual([]);
  // IRSA: each role trusts the cluster's OIDC provider for one ServiceAccount, with its own policy.
  const roles = program.resources.filter((r) => r.type === 'aws:iam/role:Role');
  const trust = (name: string) => JSON.parse(roles.find((r) => r.inputs.name === name)!.inputs.assumeRolePolicy as string);
  const oidc = stackConfig('production').cluster;
  expect(trust('switchboard-production-core').Statement[0]).toMatchObject({ Principal: { Federated: oidc.oidcProviderArn }, Action: 'sts:AssumeRoleWithWebIdentity', Condition: { StringEquals: { [`${oidc.oidcProviderUrl}:sub`]: 'system:serviceaccount:switchboard:switchboard-core' } } });
  expect(trust('switchboard-production-backup').Statement[0].Condition.StringEquals[`${oidc.oidcProviderUrl}:sub`]).toBe('system:serviceaccount:switchboard:switchboard-backup');
  const attachments = program.resources.filter((r) => r.type === 'aws:iam/rolePolicyAttachment:RolePolicyAttachment');
  expect(attachments.map((a) => a.name).sort()).toEqual(['backup-role-policy', 'core-role-policy']);
  // The API host's record points at the ingress controller's load balancer.
  const dns = program.resources.find((r) => r.type === 'aws:route53/record:Record' && r.inputs.name === stackConfig('production').edge.host);
  expect(dns?.inputs).toMatchObject({ type: 'CNAME', records: ['a1b2c3d4e5f6-123456789.eu-west-1.elb.amazonaws.com'] });
});

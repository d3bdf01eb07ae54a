import { parseStackConfig } from '../src/config';
import { configChecksumAnnotation, coreEnvironment } from '../src/k8s/app-manifests';
import type { Manifest } from '../src/k8s/types';
import { kubernetesManifests, kubernetesSpecs, loadObservability, placeholderSecretsFor } from '../src/stack';
import { rawStackConfig } from './helpers/stacks';

/**
 * Config is part of a release (issue 26): every core setting a runbook tells the operator to change has a
 * stack key (switchboard:app.settings.<NAME>), and the pod template carries a checksum of the ConfigMap
 * and Secret, so a config change alone rolls the pods (envFrom is read only when a container starts).
 */
const observability = { ruleGroups: [], dashboards: [] } as unknown as ReturnType<typeof loadObservability>;
type Raw = Record<string, any>;
const withApp = (patch: Raw): Raw => {
  const raw = rawStackConfig('production') as Raw;
  return { ...raw, app: { ...raw.app, ...patch } };
};
const render = (raw: Raw, secrets: Record<string, string> = {}): Manifest[] => {
  const config = parseStackConfig(raw);
  return kubernetesManifests(kubernetesSpecs(config, { ...placeholderSecretsFor(config), ...secrets }, observability));
};
const deployment = (manifests: Manifest[]) => manifests.find((m) => m.kind === 'Deployment' && m.metadata.name === 'switchboard-core') as any;
const configMap = (manifests: Manifest[]) => manifests.find((m) => m.kind === 'ConfigMap' && m.metadata.name === 'switchboard-config') as any;
const checksum = (manifests: Manifest[]): string => deployment(manifests).spec.template.metadata.annotations[configChecksumAnnotation];

test('the settings the runbooks name have a stack key and reach the ConfigMap', () => {
  const manifests = render(withApp({ settings: { RATE_LIMIT_API_PER_MIN: '250', RATE_LIMIT_MESSAGES_PER_MIN: '60', MESSAGE_RETENTION_BATCH_SIZE: '1000' } }));
  expect(configMap(manifests).data).toEqual(expect.objectContaining({ RATE_LIMIT_API_PER_MIN: '250', RATE_LIMIT_MESSAGES_PER_MIN: '60', MESSAGE_RETENTION_BATCH_SIZE: '1000' }));
});

test('app.settings cannot override what the stack derives, nor a secret', () => {
  const config = (settings: Record<string, string>) => parseStackConfig(withApp({ settings }));
  const provisioned = { mediaBucket: 'media' };
  expect(() => coreEnvironment(config({ RELEASE_VERSION: 'x' }), provisioned)).toThrow(/RELEASE_VERSION/);
  expect(() => coreEnvironment(config({ REDIS_URL: 'redis://x' }), provisioned)).toThrow(/REDIS_URL/);
  expect(() => parseStackConfig(withApp({ settings: { 'rate limit': '1' } }))).toThrow(/switchboard:app.settings.rate limit/);
});

test('the pod template carries a checksum of the ConfigMap and Secret: equal config, equal checksum; any change rolls the pods', () => {
  const base = checksum(render(withApp({})));
  expect(base).toMatch(/^[a-f0-9]{64}$/);
  expect(checksum(render(withApp({})))).toBe(base);
  expect(checksum(render(withApp({ settings: { RATE_LIMIT_API_PER_MIN: '250' } })))).not.toBe(base);
  expect(checksum(render(withApp({}), { JWT_HS256_KEYS: 'k2:0123456789abcdef0123456789abcdef' }))).not.toBe(base);
});

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { injectKubernetes } from '../commands/common';
import { listReleases } from '../state/releases';
import { driftOf } from '../targets/kubernetes/drift';
import { configFileWithImage, readStackValue } from '../targets/kubernetes/stack-runner';
import { fakeStack, imageOf, versionOf } from './fake-stack';
import { runOps } from './helpers';

/**
 * Config is part of a release on a stack (issue 26): `ops config set` is a release of its own, the preview
 * sees the release's settings (so they are never drift), a later deploy carries them forward, and
 * `ops rollback` puts back the previous release's image and settings. Secrets are recorded as ciphertext only.
 */
let stateDir: string;
let env: NodeJS.ProcessEnv;
beforeEach(() => {
  stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ops-config-'));
  // A stack's state is shared (issue 26 part A): here a directory named as the shared state on purpose.
  env = { OPS_STATE_DIR: stateDir, OPS_STATE_URL: `dir:${stateDir}`, OPS_USER: 'dana', OPS_SKIP_PREFLIGHT: 'all', OPS_SKIP_VERIFY: 'the recorded fake stack has no core to verify' };
});
afterEach(() => {
  injectKubernetes({});
  fs.rmSync(stateDir, { recursive: true, force: true });
});
const use = () => {
  const fake = fakeStack({ stack: 'production', initialTag: 'sha-aaa' });
  injectKubernetes({ runner: fake.runner, probe: fake.probe, pods: fake.pods, smoke: fake.smoke, pollMs: 1, verifyTimeoutMs: 200 });
  return fake;
};
const ops = (...args: string[]) => runOps([...args, '--env', 'production'], env);
const SECRET = 'k2:the-new-signing-key-0123456789abcdefghij';

test('ops config set is a release: same image, new settings, no drift; a deploy keeps them; rollback restores image and settings', async () => {
  const fake = use();
  const first = await ops('deploy', '--version', `sha256:${imageOf('sha-bbb').split('sha256:')[1]}`, '--yes');
  expect(first.code).toBe(0);

  const set = await ops('config', 'set', 'RATE_LIMIT_API_PER_MIN=250', 'MESSAGE_RETENTION_BATCH_SIZE=1000', '--yes');
  expect(set.stderr).not.toContain('besides the image');
  expect(set.code).toBe(0);
  expect(fake.serving()).toBe(imageOf('sha-bbb'));
  expect(fake.podEnv()).toEqual({ RATE_LIMIT_API_PER_MIN: '250', MESSAGE_RETENTION_BATCH_SIZE: '1000' });
  expect(fake.calls).toContain(`preview ${versionOf('sha-bbb')} MESSAGE_RETENTION_BATCH_SIZE,RATE_LIMIT_API_PER_MIN`);

  // A secret: encrypted before anything is recorded; never printed, never stored in plain text.
  const secret = await ops('config', 'set', `JWT_HS256_KEYS=${SECRET}`, '--yes');
  expect(secret.code).toBe(0);
  expect(fake.podEnv().JWT_HS256_KEYS).toBe(SECRET);
  expect(secret.stdout + secret.stderr).not.toContain(SECRET);
  const stored = fs.readdirSync(stateDir, { recursive: true }).map(String).filter((f) => fs.statSync(path.join(stateDir, f)).isFile()).map((f) => fs.readFileSync(path.join(stateDir, f), 'utf8')).join('\n');
  expect(stored).not.toContain(SECRET);
  expect(stored).not.toContain('the-new-signing-key');

  const get = await ops('config', 'get', 'RATE_LIMIT_API_PER_MIN', 'JWT_HS256_KEYS', 'LOG_LEVEL', '--json');
  expect(JSON.parse(get.stdout).settings).toEqual([
    expect.objectContaining({ name: 'RATE_LIMIT_API_PER_MIN', value: '250', key: 'switchboard:app.settings.RATE_LIMIT_API_PER_MIN', source: 'release v3' }),
    expect.objectContaining({ name: 'JWT_HS256_KEYS', secret: true, key: 'switchboard:jwtHs256Keys' }),
    expect.objectContaining({ name: 'LOG_LEVEL', key: 'switchboard:app.logLevel', source: 'Pulumi.production.yaml' }),
  ]);
  expect(get.stdout).not.toContain(SECRET);

  // A deploy of a new image carries the settings forward: its preview shows only the image bump.
  const deploy = await ops('deploy', '--version', `sha256:${imageOf('sha-ccc').split('sha256:')[1]}`, '--yes');
  expect(deploy.stderr).not.toContain('besides the image');
  expect(deploy.code).toBe(0);
  expect(fake.podEnv()).toEqual({ RATE_LIMIT_API_PER_MIN: '250', MESSAGE_RETENTION_BATCH_SIZE: '1000', JWT_HS256_KEYS: SECRET });

  // Rollback from the deploy: the image before it, the same settings. Again: the secret goes, the image stays.
  expect((await ops('rollback', '--yes')).code).toBe(0);
  expect(fake.serving()).toBe(imageOf('sha-bbb'));
  expect(fake.podEnv()).toEqual({ RATE_LIMIT_API_PER_MIN: '250', MESSAGE_RETENTION_BATCH_SIZE: '1000', JWT_HS256_KEYS: SECRET });
  const back = await ops('rollback', '--to', 'v2', '--yes');
  expect(back.code).toBe(0);
  expect(fake.serving()).toBe(imageOf('sha-bbb'));
  expect(fake.podEnv()).toEqual({ RATE_LIMIT_API_PER_MIN: '250', MESSAGE_RETENTION_BATCH_SIZE: '1000' });
  expect(back.stderr).toContain('settings: JWT_HS256_KEYS [secret] → (committed)');
  expect(listReleases(stateDir, 'production').map((r) => `${r.id} ${r.kind} ${r.status}`)).toEqual([
    'v1 deploy succeeded', 'v2 config succeeded', 'v3 config succeeded', 'v4 deploy rolled-back', 'v5 rollback rolled-back', 'v6 rollback succeeded',
  ]);
});

test('a failed config release puts back the previous settings', async () => {
  const fake = fakeStack({ stack: 'production', initialTag: 'sha-aaa', smokeFails: ['sha-aaa'] });
  injectKubernetes({ runner: fake.runner, probe: fake.probe, pods: fake.pods, smoke: fake.smoke, pollMs: 1, verifyTimeoutMs: 200 });
  const run = await ops('config', 'set', 'RATE_LIMIT_API_PER_MIN=1', '--yes');
  expect(run.code).toBe(1);
  expect(fake.podEnv()).toEqual({});
});

test('derived settings and bad values are refused before anything changes', async () => {
  const fake = use();
  expect((await ops('config', 'set', 'REDIS_URL=redis://x', '--yes')).code).toBe(2);
  expect((await ops('config', 'set', 'RATE_LIMIT_API_PER_MIN=lots', '--yes')).code).toBe(2);
  expect((await ops('config', 'set', 'NOT_A_SETTING=1', '--yes')).code).toBe(2);
  expect(fake.calls.filter((c) => c.startsWith('up'))).toEqual([]);
});

test('drift: a setting change outside the release is drift; the release\'s own settings and the checksum are not', () => {
  const urn = 'urn:pulumi:production::switchboard::kubernetes:core/v1:ConfigMap::switchboard-config';
  const configMap = { urn, type: 'kubernetes:core/v1:ConfigMap', op: 'update', paths: ['data.RATE_LIMIT_API_PER_MIN'] };
  const checksum = { urn, type: 'kubernetes:apps/v1:Deployment', op: 'update', paths: ['spec.template.metadata.annotations["switchboard.dev/config-checksum"]'] };
  expect(driftOf([configMap, checksum])).toEqual([configMap]);
  expect(driftOf([configMap, checksum], ['RATE_LIMIT_API_PER_MIN'])).toEqual([]);
  expect(driftOf([configMap], ['LOG_LEVEL'])).toEqual([configMap]);
});

test('the temporary config file holds the release\'s settings at their stack keys (secrets as ciphertext); the committed file is untouched', () => {
  const committed = fs.readFileSync(path.join(__dirname, '..', '..', 'infra', 'Pulumi.production.yaml'), 'utf8');
  const { file, remove } = configFileWithImage('production', imageOf('sha-x'), undefined, {
    RATE_LIMIT_API_PER_MIN: { value: '250' }, SHUTDOWN_DRAIN_MS: { value: '20000' }, CORS_ORIGINS: { value: 'https://a.example,https://b.example' },
    JWT_HS256_KEYS: { secure: 'v1:ciphertext' }, MESSAGE_RETENTION_DAYS: { unset: true },
  });
  try {
    expect(readStackValue(file, 'switchboard:app.settings.RATE_LIMIT_API_PER_MIN')).toBe('250');
    expect(readStackValue(file, 'switchboard:app.shutdownDrainMs')).toBe(20000);
    expect(readStackValue(file, 'switchboard:app.corsOrigins')).toEqual(['https://a.example', 'https://b.example']);
    expect(readStackValue(file, 'switchboard:jwtHs256Keys')).toEqual({ secure: 'v1:ciphertext' });
    expect(readStackValue(file, 'switchboard:app.retention.messageDays')).toBeUndefined();
  } finally {
    remove();
  }
  expect(fs.readFileSync(path.join(__dirname, '..', '..', 'infra', 'Pulumi.production.yaml'), 'utf8')).toBe(committed);
});

import { startTestCore, type TestCore } from '../../core/test/harness';
import { httpSmokeTest, smokeTokensFromEnv } from '../targets/kubernetes/smoke';

/** The Kubernetes target's public smoke test, against a real core (the jest global setup's MongoDB). */
const key = 'smoke-k1:0123456789abcdef0123456789abcdef';
const tokens = { key, issuer: 'switchboard-smoke', audience: 'switchboard' };
let core: TestCore | undefined;
afterEach(async () => {
  await core?.stop();
  core = undefined;
});

test('an authenticated send is read back by seq through the public API', async () => {
  core = await startTestCore({ JWT_HS256_KEYS: key, JWT_ISSUER: tokens.issuer });
  await expect(httpSmokeTest(tokens)(core.url)).resolves.toBeUndefined();
  // It really stored something: the smoke user's conversation holds the message.
  const list = await core.api('ops-smoke-a', 'GET', '/api/conversations');
  expect(list.body.items.some((c: { name?: string }) => c.name === 'ops smoke test')).toBe(true);
});

test('a 503 (maintenance) or a token the stack does not accept fails it', async () => {
  core = await startTestCore({ JWT_HS256_KEYS: key, JWT_ISSUER: tokens.issuer, MAINTENANCE_MODE: 'true' });
  await expect(httpSmokeTest(tokens)(core.url)).rejects.toThrow(/POST \/api\/conversations answered 503/);
  await core.stop();
  core = await startTestCore({ JWT_HS256_KEYS: key, JWT_ISSUER: 'another-issuer' });
  await expect(httpSmokeTest(tokens)(core.url)).rejects.toThrow(/answered 401/);
});

test('the smoke-test settings come from the environment, all three or none', () => {
  expect(smokeTokensFromEnv({ OPS_SMOKE_JWT_KEY: key, OPS_SMOKE_JWT_ISSUER: 'i', OPS_SMOKE_JWT_AUDIENCE: 'a' })).toEqual({ key, issuer: 'i', audience: 'a' });
  expect(smokeTokensFromEnv({ OPS_SMOKE_JWT_KEY: key })).toBeUndefined();
});

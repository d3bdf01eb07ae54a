import { smokeTest } from '../../../ops/targets/local/smoke';
import { startTestCore, testServicesEnv, uniqueDbName, type TestCore } from '../../test/harness';

/** The project's own tools run on @switchboard/client: the deploy smoke test across two instances. */
let a: TestCore;
let b: TestCore;
beforeAll(async () => {
  const db = uniqueDbName();
  a = await startTestCore({}, { redis: true, db });
  b = await startTestCore({}, { redis: true, db });
});
afterAll(async () => {
  await a?.stop();
  await b?.stop();
});

describe('tools on the client library', () => {
  it('the deploy smoke test sends on one instance and receives on the other', async () => {
    const result = await smokeTest([a.url, b.url], { APP_ENV: 'test', ...testServicesEnv() });
    expect(result.seq).toBe(1);
    expect(result.conversationId).toMatch(/^[0-9a-f]{24}$/);
  });

  it('the smoke test fails with the reason when a core refuses the session', async () => {
    await expect(smokeTest([a.url, b.url], { APP_ENV: 'test', ...testServicesEnv(), JWT_HS256_KEYS: `other:${'x'.repeat(48)}` })).rejects.toThrow(/401|unauthorized/);
  });
});

import { testNow } from '../../ops/services/test-clock';
import { createTokenVerifier, signLocalToken, type TokenSettings } from '../src/auth/tokens';

// Token expiry against the injected clock (SWITCHBOARD_TEST_NOW_OFFSET_DAYS moves it), not today's date.
const settings: TokenSettings = { issuer: 'switchboard-local', audience: 'switchboard', hs256Keys: ['local:a-test-secret-that-is-long-enough-for-hs256'], clockToleranceS: 5 };
// One instant read once, so signing and verifying never straddle a second boundary (exp is in whole seconds).
const t0 = testNow().getTime();
const at = (offsetS: number) => new Date(t0 + offsetS * 1000);
/** The principal for a token signed at `signedAt` with a ttl: expiresAt is its exp (whole seconds), in ms. */
const principal = (signedAt: Date, ttlS: number) => ({ userId: 'ivy', expiresAt: (Math.floor(signedAt.getTime() / 1000) + ttlS) * 1000, issuedAt: Math.floor(signedAt.getTime() / 1000) * 1000 });

test('a token is accepted until its exp (plus the clock tolerance) on the verifier clock, then refused as expired', async () => {
  const token = await signLocalToken(settings, 'ivy', 600, at(0));
  await expect(createTokenVerifier(settings, () => at(0))(token)).resolves.toEqual(principal(at(0), 600));
  await expect(createTokenVerifier(settings, () => at(604))(token)).resolves.toEqual(principal(at(0), 600));
  await expect(createTokenVerifier(settings, () => at(660))(token)).rejects.toMatchObject({ code: 'unauthorized', message: 'The token has expired.' });
});

test('a token issued on another clock is judged by the verifier clock only', async () => {
  const lastYear = await signLocalToken(settings, 'ivy', 600, at(-365 * 86_400));
  await expect(createTokenVerifier(settings, () => at(0))(lastYear)).rejects.toMatchObject({ message: 'The token has expired.' });
  await expect(createTokenVerifier(settings, () => at(-365 * 86_400 + 60))(lastYear)).resolves.toEqual(principal(at(-365 * 86_400), 600));
});

test('a verifier that has seen a token (its verification cache) still refuses it once expired, and never caches a refusal', async () => {
  let clock = at(0);
  const verify = createTokenVerifier(settings, () => clock);
  const token = await signLocalToken(settings, 'ivy', 600, at(0));
  await expect(verify(token)).resolves.toEqual(principal(at(0), 600));
  clock = at(604);
  await expect(verify(token)).resolves.toEqual(principal(at(0), 600));
  clock = at(606);
  await expect(verify(token)).rejects.toMatchObject({ code: 'unauthorized', message: 'The token has expired.' });
  // A forged token with a valid one's prefix is checked in full, every time.
  clock = at(0);
  const forged = `${token.slice(0, -2)}${token.endsWith('AA') ? 'BB' : 'AA'}`;
  await expect(verify(forged)).rejects.toMatchObject({ code: 'unauthorized' });
  await expect(verify(forged)).rejects.toMatchObject({ code: 'unauthorized' });
  await expect(verify(token)).resolves.toEqual(principal(at(0), 600));
});

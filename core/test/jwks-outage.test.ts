import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { createTokenVerifier } from '../src/auth/tokens';
import { AppError } from '../src/errors';
import { sleep } from './harness';

/**
 * Issue 21 item 5: the last good JWKS is kept, refreshed in the background with a cooldown, and
 * an unreachable IdP with no key known answers 503 `unavailable` (never 401: clients would sign out).
 */
let server: http.Server;
let url: string;
let up = true;
let fetches = 0;
let sign: (kid: string) => Promise<string>;
let jwks: unknown;

beforeAll(async () => {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  jwks = { keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }] };
  sign = (kid) => new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid }).setSubject('sam').setIssuer('idp').setAudience('switchboard').setIssuedAt().setExpirationTime('1h').sign(privateKey);
  server = http.createServer((req, res) => {
    fetches++;
    if (!up) return void req.socket.destroy(); // connection reset: the IdP is unreachable
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(jwks));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const verifier = (cooldownMs: number, maxAgeMs: number) =>
  createTokenVerifier({ issuer: 'idp', audience: 'switchboard', hs256Keys: [], jwksUrl: url, jwksCooldownMs: cooldownMs, jwksCacheMaxAgeMs: maxAgeMs, clockToleranceS: 5 });
const codeOf = (p: Promise<unknown>) => p.then(() => 'ok', (e: unknown) => (e instanceof AppError ? e.code : 'other'));

describe('JWKS through an IdP outage', () => {
  it('IdP unreachable and no key known: 503 unavailable with retryAfter, not 401', async () => {
    up = false;
    const verify = verifier(1_000, 60_000);
    const error = await verify(await sign('k1')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect({ code: (error as AppError).code, status: (error as AppError).status, retryAfter: (error as AppError).extra.retryAfter }).toEqual({ code: 'unavailable', status: 503, retryAfter: expect.any(Number) });
    up = true;
  });

  it('a stale key set is kept while the IdP is down: tokens keep verifying', async () => {
    up = true;
    const verify = verifier(0, 50);
    expect(await codeOf(verify(await sign('k1')))).toBe('ok');
    up = false;
    await sleep(120); // stale now
    for (let i = 0; i < 3; i++) expect(await codeOf(verify(await sign('k1')))).toBe('ok');
    up = true;
  });

  it('unknown kids refetch at most once per cooldown, and a forged kid is 401 (the IdP is up)', async () => {
    up = true;
    const verify = verifier(60_000, 600_000);
    expect(await codeOf(verify(await sign('k1')))).toBe('ok');
    const before = fetches;
    for (let i = 0; i < 10; i++) expect(await codeOf(verify(await sign(`forged-${i}`)))).toBe('unauthorized');
    expect(fetches - before).toBeLessThanOrEqual(1);
  });
});

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { signLocalToken, tokenSettingsFrom } from '../src/auth/tokens';
import { loadConfig } from '../src/config';
import { startTestCore } from './harness';

describe('JWKS (identity provider keys, production mode)', () => {
  it('accepts RS256 tokens signed by a key in the JWKS and refuses the development HS256 key', async () => {
    const { publicKey, privateKey } = await generateKeyPair('RS256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'idp-1', alg: 'RS256', use: 'sig' };
    const idp = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] })));
    await new Promise<void>((resolve) => idp.listen(0, '127.0.0.1', resolve));
    const jwksUrl = `http://127.0.0.1:${(idp.address() as AddressInfo).port}/.well-known/jwks.json`;
    const t = await startTestCore({ JWT_JWKS_URL: jwksUrl, JWT_HS256_KEYS: '', JWT_ISSUER: 'https://idp.example.test/', JWT_AUDIENCE: 'switchboard-api' });
    try {
      const sign = (kid: string) => new SignJWT({}).setProtectedHeader({ alg: 'RS256', kid }).setSubject('olga').setIssuer('https://idp.example.test/').setAudience('switchboard-api').setExpirationTime('5m').sign(privateKey);
      const ok = await fetch(`${t.url}/api/conversations`, { headers: { authorization: `Bearer ${await sign('idp-1')}` } });
      expect(ok.status).toBe(200);
      const unknownKid = await fetch(`${t.url}/api/conversations`, { headers: { authorization: `Bearer ${await sign('rotated-away')}` } });
      expect(unknownKid.status).toBe(401);
      // A token signed with the built-in development key, with the right issuer and audience.
      const devSettings = tokenSettingsFrom(loadConfig({ APP_ENV: 'test', MONGODB_URI: 'mongodb://unused', JWT_ISSUER: 'https://idp.example.test/', JWT_AUDIENCE: 'switchboard-api' }));
      const devKey = await fetch(`${t.url}/api/conversations`, { headers: { authorization: `Bearer ${await signLocalToken(devSettings, 'olga')}` } });
      expect(devKey.status).toBe(401);
    } finally {
      await t.stop();
      idp.close();
    }
  });
});

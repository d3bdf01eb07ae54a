import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, type JWK } from 'jose';
import { io as connect } from 'socket.io-client';
import type { ClientSocket } from './harness';
import { startTestCore } from './harness';

/**
 * Key rotation at the identity provider, against a local JWKS server whose key set the test changes:
 * add a key (tokens with the new kid verify after one refresh), retire the old one (refused once the
 * set is refetched), while sockets opened with old-key tokens stay connected and keep receiving.
 */
const ISSUER = 'https://idp.example.test/';
const AUDIENCE = 'switchboard-api';

async function keyPair(kid: string) {
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  const sign = (sub: string) => new SignJWT({}).setProtectedHeader({ alg: 'RS256', kid }).setSubject(sub).setIssuer(ISSUER).setAudience(AUDIENCE).setExpirationTime('10m').sign(privateKey);
  return { jwk, sign };
}

async function jwksServer() {
  const state = { keys: [] as JWK[], fetches: 0 };
  const server = http.createServer((_req, res) => {
    state.fetches += 1;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: state.keys }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { state, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`, close: () => new Promise((r) => server.close(r)) };
}

const env = (url: string, cooldownMs: string) => ({ JWT_JWKS_URL: url, JWT_HS256_KEYS: '', JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE, JWT_JWKS_COOLDOWN_MS: cooldownMs });

it('rotates keys while sockets stay connected: add → both verify → retire → old kid refused', async () => {
  const idp = await jwksServer();
  const [k1, k2] = [await keyPair('idp-2026-01'), await keyPair('idp-2026-07')];
  idp.state.keys = [k1.jwk];
  // Cooldown 0: every unknown kid may refetch, so the test needs no waiting (the rate limit is the next test).
  const t = await startTestCore(env(idp.url, '0'));
  const sockets: ClientSocket[] = [];
  const open = async (token: string) => {
    const socket: ClientSocket = connect(t.url, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
    sockets.push(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    return socket;
  };
  const api = async (token: string, path = '/api/conversations') => (await fetch(`${t.url}${path}`, { headers: { authorization: `Bearer ${token}` } })).status;
  try {
    const created = await fetch(`${t.url}/api/conversations`, { method: 'POST', headers: { authorization: `Bearer ${await k1.sign('olga')}`, 'content-type': 'application/json' }, body: JSON.stringify({ type: 'direct', memberIds: ['piet'] }) });
    const conversationId = ((await created.json()) as { id: string }).id;
    const olga = await open(await k1.sign('olga'));
    await olga.emitWithAck('join_conversation', { conversationId });

    // 1. The IdP publishes the new key next to the old one; a token with the new kid refreshes the set once.
    idp.state.keys = [k1.jwk, k2.jwk];
    const before = idp.state.fetches;
    expect(await api(await k2.sign('piet'))).toBe(200);
    expect(idp.state.fetches).toBe(before + 1);
    expect(await api(await k2.sign('piet'))).toBe(200);
    expect(idp.state.fetches).toBe(before + 1); // cached now
    // An old-key token the core has verified (and remembers: the verified-token cache).
    const oldKeyToken = await k1.sign('piet');
    expect(await api(oldKeyToken)).toBe(200);

    // 2. A socket with a new-key token joins; the old-key socket still receives what it sends.
    const piet = await open(await k2.sign('piet'));
    await piet.emitWithAck('join_conversation', { conversationId });
    const received = new Promise<{ text: string }>((resolve) => olga.once('message_received', resolve));
    const ack = (await piet.emitWithAck('send_message', { conversationId, clientMsgId: 'rot-1', text: 'after the new key' })) as { seq?: number };
    expect(ack.seq).toBeGreaterThan(0);
    expect((await received).text).toBe('after the new key');

    // 3. The IdP retires the old key. The next unknown kid refetches; from then on old-key tokens are refused.
    idp.state.keys = [k2.jwk];
    expect(await api(await (await keyPair('forged')).sign('mallory'))).toBe(401);
    expect(await api(await k1.sign('olga'))).toBe(401);
    // The very token verified before the retirement is refused too: the refresh ended its cache hit.
    expect(await api(oldKeyToken)).toBe(401);
    expect(await api(await k2.sign('olga'))).toBe(200);

    // Sessions opened before the rotation were not dropped: both sockets are connected and still deliver.
    expect([olga.connected, piet.connected]).toEqual([true, true]);
    const again = new Promise<{ text: string }>((resolve) => piet.once('message_received', resolve));
    await olga.emitWithAck('send_message', { conversationId, clientMsgId: 'rot-2', text: 'old socket still here' });
    expect((await again).text).toBe('old socket still here');
  } finally {
    for (const s of sockets) s.disconnect();
    await t.stop();
    await idp.close();
  }
});

it('rate-limits refreshes: a burst of unknown kids within the cooldown fetches the key set once', async () => {
  const idp = await jwksServer();
  const k1 = await keyPair('idp-1');
  idp.state.keys = [k1.jwk];
  const t = await startTestCore(env(idp.url, '600000'));
  try {
    const status = async (token: string) => (await fetch(`${t.url}/api/conversations`, { headers: { authorization: `Bearer ${token}` } })).status;
    expect(await status(await k1.sign('olga'))).toBe(200);
    expect(idp.state.fetches).toBe(1);
    const forged = await Promise.all(Array.from({ length: 20 }, (_, i) => keyPair(`forged-${i}`)));
    const answers = await Promise.all(forged.map(async (k) => status(await k.sign('mallory'))));
    expect(new Set(answers)).toEqual(new Set([401]));
    expect(idp.state.fetches).toBe(1);
    expect(await status(await k1.sign('olga'))).toBe(200);
  } finally {
    await t.stop();
    await idp.close();
  }
});

import { SignJWT, UnsecuredJWT } from 'jose';
import { io } from 'socket.io-client';
import { startTestCore, type TestCore } from './harness';

let t: TestCore;
let convId: string;
beforeAll(async () => {
  t = await startTestCore({ RATE_LIMIT_API_PER_MIN: '1000', RATE_LIMIT_MESSAGES_PER_MIN: '1000' });
  convId = (await t.api('ivy', 'POST', '/api/conversations', { type: 'group', name: 'sec', memberIds: ['jon'] })).body.id;
});
afterAll(async () => {
  await t.stop();
});

const raw = (token: string, path = '/api/conversations') => fetch(`${t.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
const key = (secret: string) => new TextEncoder().encode(secret);
const localSecret = () => t.config.JWT_HS256_KEYS[0]!.split(':').slice(1).join(':');
const claims = (overrides: { iss?: string; aud?: string; exp?: number; kid?: string; secret?: string } = {}) =>
  new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', kid: overrides.kid ?? 'local' })
    .setSubject('ivy')
    .setIssuer(overrides.iss ?? t.config.JWT_ISSUER)
    .setAudience(overrides.aud ?? t.config.JWT_AUDIENCE)
    .setExpirationTime(overrides.exp ?? Math.floor(Date.now() / 1000) + 600)
    .sign(key(overrides.secret ?? localSecret()));

describe('JWT verification', () => {
  it('accepts a valid token (control)', async () => {
    expect((await raw(await claims())).status).toBe(200);
  });

  it.each([
    ['alg none', async () => new UnsecuredJWT({ sub: 'ivy', iss: 'switchboard-local', aud: 'switchboard' }).setExpirationTime('10m').encode()],
    ['the wrong key', async () => claims({ secret: 'an-entirely-different-secret-of-sufficient-length' })],
    ['an unknown kid', async () => claims({ kid: 'elsewhere' })],
    ['the wrong audience', async () => claims({ aud: 'someone-else' })],
    ['the wrong issuer', async () => claims({ iss: 'evil' })],
    ['an expired exp (beyond the clock tolerance)', async () => claims({ exp: Math.floor(Date.now() / 1000) - 60 })],
    ['garbage', async () => 'not.a.jwt'],
  ])('refuses a token with %s: 401 problem+json', async (_name, make) => {
    const res = await raw(await make());
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(((await res.json()) as { code: string }).code).toBe('unauthorized');
  });

  it('refuses a socket handshake with a bad token, with the same code', async () => {
    const socket = io(t.url, { auth: { token: await claims({ aud: 'nope' }) }, transports: ['websocket'], reconnection: false, forceNew: true });
    const error = await new Promise<Error & { data?: { code: string } }>((resolve) => socket.once('connect_error', resolve));
    socket.close();
    expect(error.data?.code).toBe('unauthorized');
  });
});

describe('hostile input', () => {
  it.each([
    ['operator object as clientMsgId', { clientMsgId: { $gt: '' }, text: 'x' }],
    ['operator object as text', { clientMsgId: 'inj-1', text: { $ne: null } }],
    ['an extra field', { clientMsgId: 'inj-2', text: 'x', senderId: 'jon' }],
    ['an array body', [{ clientMsgId: 'inj-3', text: 'x' }]],
  ])('refuses %s with 400 and stores nothing', async (_name, body) => {
    const res = await t.api('ivy', 'POST', `/api/conversations/${convId}/messages`, body);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('validation_failed');
  });

  it('refuses operator syntax in query strings', async () => {
    const res = await t.api('ivy', 'GET', `/api/conversations/${convId}/messages?afterSeq[$gt]=0`);
    expect(res.status).toBe(400);
    const listing = await t.api('ivy', 'GET', '/api/conversations?limit[$ne]=1');
    expect(listing.status).toBe(400);
  });

  it('refuses malformed JSON (400) and oversized bodies (413), and keeps serving', async () => {
    const bad = await t.api('ivy', 'POST', `/api/conversations/${convId}/messages`, '{"clientMsgId": ');
    expect(bad.status).toBe(400);
    const huge = await t.api('ivy', 'POST', `/api/conversations/${convId}/messages`, { clientMsgId: 'huge', text: 'x'.repeat(t.config.HTTP_BODY_LIMIT_BYTES + 10) });
    expect(huge.status).toBe(413);
    expect(huge.body.code).toBe('payload_too_large');
    const history = await t.api('ivy', 'GET', `/api/conversations/${convId}/messages`);
    expect(history.status).toBe(200);
    expect(history.body.items).toHaveLength(0);
    expect((await fetch(`${t.url}/health`)).status).toBe(200);
  });

  it('answers unknown routes with a 404 problem', async () => {
    const res = await t.api('ivy', 'GET', '/api/nope');
    expect(res.status).toBe(404);
    expect(res.body.code).toBe('not_found');
  });

  it('sends security headers', async () => {
    const res = await fetch(`${t.url}/health`);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-powered-by')).toBeNull();
  });
});

describe('rate limits', () => {
  it('limits messages per user with 429 and Retry-After, without affecting other users', async () => {
    const limited = await startTestCore({ RATE_LIMIT_MESSAGES_PER_MIN: '3' });
    try {
      const id = (await limited.api('kim', 'POST', '/api/conversations', { type: 'group', name: 'rl', memberIds: ['lee'] })).body.id;
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) statuses.push((await limited.api('kim', 'POST', `/api/conversations/${id}/messages`, { clientMsgId: `rl-${i}`, text: 'spam' })).status);
      expect(statuses).toEqual([201, 201, 201, 429, 429]);
      const refused = await limited.api('kim', 'POST', `/api/conversations/${id}/messages`, { clientMsgId: 'rl-9', text: 'spam' });
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(refused.body).toMatchObject({ code: 'rate_limited', retryAfter: expect.any(Number) });
      expect((await limited.api('lee', 'POST', `/api/conversations/${id}/messages`, { clientMsgId: 'lee-1', text: 'hi' })).status).toBe(201);
      const stored = await limited.api('lee', 'GET', `/api/conversations/${id}/messages`);
      expect(stored.body.items).toHaveLength(4);
      const metrics = await (await fetch(`${limited.core.metricsUrl}/metrics`)).text();
      expect(metrics).toMatch(/chat_rate_limit_rejections_total\{scope="message"\} 3/);
    } finally {
      await limited.stop();
    }
  });

  it('limits API calls per user through Redis, shared by two instances', async () => {
    const env = { RATE_LIMIT_API_PER_MIN: '4' };
    const a = await startTestCore(env, { redis: true });
    const b = await startTestCore(env, { redis: true, db: a.config.MONGODB_DB });
    try {
      const user = `rl-${Date.now()}`;
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await a.api(user, 'GET', '/api/conversations')).status);
      for (let i = 0; i < 3; i++) statuses.push((await b.api(user, 'GET', '/api/conversations')).status);
      expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});

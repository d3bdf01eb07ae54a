import { freePort } from '../../ops/services/ports';
import { signLocalToken, tokenSettingsFrom } from '../src/auth/tokens';
import { nginxHttpTempDirectives, nginxPrefixDirectives, startNginx, type NginxInstance } from '../../ops/services/nginx';
import { io as connect } from 'socket.io-client';
import { collect, nextEvent, startTestCore, uniqueDbName, type ClientSocket, type TestCore } from './harness';

/**
 * Two core instances sharing MongoDB and Redis behind a real nginx. `?node=a|b` pins a request to
 * one instance (test-only routing), so the test knows the message crossed instances.
 */
describe.each([
  ['the Redis pub/sub adapter', 'false'],
  ['the Redis Streams adapter (connection state recovery on)', 'true'],
])('with %s', (_adapter, recovery) => {
  let a: TestCore;
  let b: TestCore;
  let nginx: NginxInstance;
  let front: string;

  beforeAll(async () => {
    const db = uniqueDbName();
    a = await startTestCore({ INSTANCE_ID: 'core-a', RELEASE_VERSION: 'core-a', CONNECTION_STATE_RECOVERY: recovery, JWT_CLOCK_TOLERANCE_S: '0' }, { redis: true, db });
    b = await startTestCore({ INSTANCE_ID: 'core-b', RELEASE_VERSION: 'core-b', CONNECTION_STATE_RECOVERY: recovery, JWT_CLOCK_TOLERANCE_S: '0' }, { redis: true, db });
    const port = await freePort();
    nginx = await startNginx({
      port,
      config: (dir) => `${nginxPrefixDirectives(dir)}
  events { worker_connections 1024; }
  http {
    ${nginxHttpTempDirectives(dir)}
    map $http_upgrade $connection_upgrade { default upgrade; '' close; }
    upstream core_a { server 127.0.0.1:${a.core.port}; }
    upstream core_b { server 127.0.0.1:${b.core.port}; }
    server {
      listen 127.0.0.1:${port};
      location / {
        proxy_pass http://core_$arg_node;
        proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection $connection_upgrade;
        proxy_set_header Host $host;
        proxy_read_timeout 60s;
      }
    }
  }
  `,
    });
    front = nginx.address;
  });

  afterAll(async () => {
    await nginx?.stop();
    await Promise.all([a?.stop(), b?.stop()]);
  });

  describe('two instances behind nginx with Redis', () => {
    it('routes to each instance', async () => {
      const viaA = (await (await fetch(`${front}/health?node=a`)).json()) as { version: string };
      const viaB = (await (await fetch(`${front}/health?node=b`)).json()) as { version: string };
      expect([viaA.version, viaB.version]).toEqual(['core-a', 'core-b']);
    });

    it('a message sent through instance A reaches a client connected to instance B', async () => {
      const token = await a.token('alpha');
      const conversation = await fetch(`${front}/api/conversations?node=a`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'group', name: 'cross', memberIds: ['beta'] }),
      }).then((r) => r.json() as Promise<{ id: string }>);

      const beta: ClientSocket = connect(front, { query: { node: 'b' }, auth: { token: await b.token('beta') }, transports: ['websocket'], reconnection: false, forceNew: true });
      const alpha: ClientSocket = connect(front, { query: { node: 'a' }, auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
      try {
        await Promise.all([beta, alpha].map((s) => new Promise<void>((resolve, reject) => { s.once('connect', resolve); s.once('connect_error', reject); })));
        expect((await (beta as any).emitWithAck('join_conversation', { conversationId: conversation.id })).error).toBeUndefined();
        expect(b.core.io.engine.clientsCount).toBe(1);
        expect(a.core.io.engine.clientsCount).toBe(1);

        const overSocket = nextEvent<{ text: string; senderId: string }>(beta, 'message_received');
        const ack = await (alpha as any).emitWithAck('send_message', { conversationId: conversation.id, clientMsgId: 'x-1', text: 'from A over a socket' });
        expect(ack.error).toBeUndefined();
        expect(await overSocket).toMatchObject({ text: 'from A over a socket', senderId: 'alpha' });

        const overHttp = nextEvent<{ text: string }>(beta, 'message_received');
        const sent = await fetch(`${front}/api/conversations/${conversation.id}/messages?node=a`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ clientMsgId: 'x-2', text: 'from A over HTTP' }),
        });
        expect(sent.status).toBe(201);
        expect((await overHttp).text).toBe('from A over HTTP');
      } finally {
        alpha.close();
        beta.close();
      }
    });

    it('leaving through one instance stops sends through the other at once (membership cache invalidated across instances)', async () => {
      const id = (await a.api('owner', 'POST', '/api/conversations', { type: 'group', name: 'leave-x', memberIds: ['quitter'] })).body.id;
      expect((await b.api('quitter', 'POST', `/api/conversations/${id}/messages`, { clientMsgId: 'q-1', text: 'warm the cache on B' })).status).toBe(201);
      expect((await a.api('quitter', 'POST', `/api/conversations/${id}/leave`)).status).toBe(204);
      await new Promise((r) => setTimeout(r, 200));
      const after = await b.api('quitter', 'POST', `/api/conversations/${id}/messages`, { clientMsgId: 'q-2', text: 'should be refused' });
      expect(after.status).toBe(403);
    });

    const socketVia = async (node: 'a' | 'b', core: TestCore, userId: string): Promise<ClientSocket> => {
      const socket: ClientSocket = connect(front, { query: { node }, auth: { token: await core.token(userId) }, transports: ['websocket'], reconnection: false, forceNew: true });
      await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('connect_error', reject); });
      return socket;
    };
    const ack = (socket: ClientSocket, event: string, payload: unknown) => (socket as any).timeout(5_000).emitWithAck(event, payload);
    /** Polls up to the deadline (the rule is "within one second"); fails if it never holds. */
    const within = async (ms: number, check: () => boolean) => {
      const deadline = Date.now() + ms;
      while (!check()) {
        if (Date.now() > deadline) return false;
        await new Promise((r) => setTimeout(r, 10));
      }
      return true;
    };

    it('leave through A with the id in upper case: within a second the leaver\'s socket on B is out of the room, gets nothing more, and B\'s cache forgot', async () => {
      const id = (await a.api('lo', 'POST', '/api/conversations', { type: 'group', name: 'gone', memberIds: ['lq', 'lw'] })).body.id as string;
      await a.api('lo', 'POST', '/api/conversations', { type: 'group', name: 'keep', memberIds: ['lq'] }); // not lq's last conversation
      const [leaver, witness] = [await socketVia('b', b, 'lq'), await socketVia('b', b, 'lw')];
      try {
        for (const s of [leaver, witness]) expect((await ack(s, 'join_conversation', { conversationId: id.toUpperCase() })).error).toBeUndefined();
        // Warm B's membership cache for the leaver.
        expect((await ack(leaver, 'send_message', { conversationId: id, clientMsgId: 'lq-1', text: 'hi' })).error).toBeUndefined();
        const room = `conv:${id}`;
        expect(b.core.io.of('/').adapter.rooms.get(room)?.has(leaver.id!)).toBe(true);

        const res = await fetch(`${front}/api/conversations/${id.toUpperCase()}/leave?node=a`, { method: 'POST', headers: { authorization: `Bearer ${await a.token('lq')}` } });
        expect(res.status).toBe(204);
        expect(await within(1_000, () => !b.core.io.of('/').adapter.rooms.get(room)?.has(leaver.id!))).toBe(true);

        const toLeaver = collect<{ text: string }>(leaver, 'message_received');
        const control = nextEvent<{ text: string }>(witness, 'message_received');
        expect((await a.api('lo', 'POST', `/api/conversations/${id}/messages`, { clientMsgId: 'lo-1', text: 'after the leave' })).status).toBe(201);
        expect((await control).text).toBe('after the leave');
        expect((await ack(leaver, 'send_message', { conversationId: id, clientMsgId: 'lq-2', text: 'refused' })).error).toMatchObject({ code: 'forbidden' });
        expect(toLeaver).toEqual([]);
      } finally {
        leaver.close();
        witness.close();
      }
    });

    it('a socket whose token expires is told session_ended(token_expired) before the disconnect (also when emits go through the adapter)', async () => {
      // `exp` has a one-second grain: 3 s leaves 2-3 s, enough for a handshake through nginx on a busy box
      // (with 1 s, 0-1 s were left, and the cold rehearsal's handshake once arrived after the expiry).
      const token = await signLocalToken(tokenSettingsFrom(b.config), 'short-lived', 3);
      const socket: ClientSocket = connect(front, { query: { node: 'b' }, auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
      try {
        await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('connect_error', reject); });
        const ended = nextEvent<{ reason: string }>(socket, 'session_ended', 10_000);
        const gone = new Promise<string>((resolve) => socket.once('disconnect', resolve));
        expect((await ended).reason).toBe('token_expired');
        expect(await gone).toBe('io server disconnect');
      } finally {
        socket.close();
      }
    });

    it('ending a user\'s sessions through A\'s internal listener ends their socket on B', async () => {
      const target = await socketVia('b', b, 'revoked-user');
      try {
        // A client acknowledges session_ended; the server then disconnects at once.
        const ended = new Promise<{ reason: string }>((resolve) => (target as any).once('session_ended', (event: { reason: string }, done: () => void) => { done(); resolve(event); }));
        expect((await fetch(`${a.core.metricsUrl}/admin/users/revoked-user/end-sessions`, { method: 'POST' })).status).toBe(200);
        expect((await ended).reason).toBe('revoked');
        expect(await within(1_000, () => !target.connected)).toBe(true);
      } finally {
        target.close();
      }
    });
  });
});

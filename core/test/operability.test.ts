import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Redis from 'ioredis';
import { MongoClient, ObjectId } from 'mongodb';
import { io as connect } from 'socket.io-client';
import { startMongo } from '../../ops/services/mongo';
import { startRedis } from '../../ops/services/redis';
import { MAINTENANCE_KEY } from '../src/maintenance';
import { createLogger } from '../src/telemetry/logger';
import { createErrorReporter } from '../src/telemetry/sentry';
import { sleep, startTestCore, testServicesEnv, uniqueDbName } from './harness';

describe('health, readiness and metrics', () => {
  it('/health is liveness only; /ready checks MongoDB and Redis; /metrics exports the named metrics', async () => {
    const t = await startTestCore({}, { redis: true });
    try {
      // Public: only what a load balancer and a deploy need.
      const health = (await (await fetch(`${t.url}/health`)).json()) as Record<string, unknown>;
      expect(health).toMatchObject({ status: 'ok', version: 'dev', draining: false, maintenance: { on: false } });
      expect(Object.keys(health).sort()).toEqual(['draining', 'instance', 'maintenance', 'status', 'version']);
      const ready = await fetch(`${t.url}/ready`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ ready: true });
      // Internal listener: the details.
      expect(await (await fetch(`${t.core.metricsUrl}/health`)).json()).toMatchObject({ status: 'ok', instance: t.config.INSTANCE_ID, uptimeSeconds: expect.any(Number), sockets: 0 });
      expect(await (await fetch(`${t.core.metricsUrl}/ready`)).json()).toMatchObject({ ready: true, checks: { mongodb: 'up', redis: 'up' } });

      const id = (await t.api('mo', 'POST', '/api/conversations', { type: 'group', name: 'm' })).body.id;
      await t.api('mo', 'POST', `/api/conversations/${id}/messages`, { clientMsgId: 'metric-1', text: 'count me' });
      const socket = await t.socket('mo');
      const metrics = await (await fetch(`${t.core.metricsUrl}/metrics`)).text();
      expect(metrics).toContain('chat_messages_total{transport="http",outcome="created"} 1');
      expect(metrics).toMatch(/http_request_duration_seconds_bucket\{le="[0-9.]+",method="POST",route="\/api\/conversations\/:id\/messages",status_code="201"\}/);
      expect(metrics).toContain('chat_socket_connections 1');
      expect(metrics).toMatch(/chat_message_persist_duration_seconds_count 1/);
      expect(metrics).toMatch(/chat_dependency_up\{dependency="mongodb"\} 1/);
      expect(metrics).toMatch(/nodejs_eventloop_lag_p99_seconds/);
      socket.disconnect();
    } finally {
      await t.stop();
    }
  });

  it('/ready stays 200 and reports Redis as degraded when Redis goes away (optional at run time); /health stays 200, the API keeps working', async () => {
    const redis = await startRedis();
    const t = await startTestCore({ REDIS_URL: redis.address });
    try {
      expect((await fetch(`${t.url}/ready`)).status).toBe(200);
      await redis.stop();
      // Public: still ready, naming what is down and nothing more.
      const ready = await fetch(`${t.url}/ready`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ ready: true, down: ['redis'] });
      // Internal listener: Redis is degraded (not a readiness reason), with its check and the metric.
      const internal = await fetch(`${t.core.metricsUrl}/ready`);
      expect(internal.status).toBe(200);
      expect(await internal.json()).toMatchObject({ ready: true, checks: { mongodb: 'up', redis: expect.stringMatching(/^down: /) }, down: ['redis'], degraded: ['redis'] });
      expect(await (await fetch(`${t.core.metricsUrl}/metrics`)).text()).toMatch(/chat_dependency_up\{dependency="redis"\} 0/);
      expect((await fetch(`${t.url}/health`)).status).toBe(200);
      // Rate limits fall back to memory: the API still answers.
      expect((await t.api('nr', 'GET', '/api/conversations')).status).toBe(200);
    } finally {
      await t.stop();
    }
  });

  it('when MongoDB goes away: /ready names it, the API answers 503 problem+json, the process keeps serving', async () => {
    const mongo = await startMongo({ storage: 'memory' });
    const t = await startTestCore({ MONGODB_URI: mongo.address });
    try {
      const id = (await t.api('db', 'POST', '/api/conversations', { type: 'group', name: 'x' })).body.id;
      await mongo.stop();
      const send = await t.api('db', 'POST', `/api/conversations/${id}/messages`, { clientMsgId: 'lost-1', text: 'x' });
      expect(send.status).toBe(503);
      expect(send.body.code).toBe('unavailable');
      expect(send.headers.get('retry-after')).toBe('5');
      const ready = await fetch(`${t.url}/ready`);
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as { down: string[] }).down).toEqual(['mongodb']);
      expect((await fetch(`${t.url}/health`)).status).toBe(200);
    } finally {
      await t.stop();
    }
  }, 30_000);
});

describe('maintenance mode', () => {
  it('MAINTENANCE_MODE: API and socket handshakes answer 503 with Retry-After; /health stays 200 and says so', async () => {
    const t = await startTestCore({ MAINTENANCE_MODE: 'true', MAINTENANCE_RETRY_AFTER_S: '90', MAINTENANCE_MESSAGE: 'Upgrading the database' });
    try {
      const res = await t.api('mm', 'GET', '/api/conversations');
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('90');
      expect(res.body).toMatchObject({ code: 'maintenance', detail: 'Upgrading the database', retryAfter: 90 });
      const health = await fetch(`${t.url}/health`);
      expect(health.status).toBe(200);
      expect(((await health.json()) as { maintenance: unknown }).maintenance).toMatchObject({ on: true, source: 'env' });
      const socket = connect(t.url, { auth: { token: await t.token('mm') }, transports: ['websocket'], reconnection: false, forceNew: true });
      const error = await new Promise<Error & { data?: { code: string; retryAfter: number } }>((resolve) => socket.once('connect_error', resolve));
      socket.close();
      expect(error.data).toMatchObject({ code: 'maintenance', retryAfter: 90 });
    } finally {
      await t.stop();
    }
  });

  it('the Redis flag (what `ops maintenance` sets) turns every instance on and off within seconds', async () => {
    // Its own Redis: the flag is global to a Redis, and on the run's shared one it would put every core
    // another test file runs in parallel (e.g. the Redis fault suite) into maintenance.
    const server = await startRedis();
    const t = await startTestCore({ REDIS_URL: server.address });
    const redis = new Redis(server.address);
    try {
      expect((await t.api('mr', 'GET', '/api/conversations')).status).toBe(200);
      await redis.set(MAINTENANCE_KEY, JSON.stringify({ message: 'Planned work', retryAfter: 30 }));
      await sleep(1_500);
      const during = await t.api('mr', 'GET', '/api/conversations');
      expect(during.status).toBe(503);
      expect(during.body).toMatchObject({ code: 'maintenance', detail: 'Planned work' });
      expect((await (await fetch(`${t.core.metricsUrl}/metrics`)).text())).toContain('chat_maintenance_mode 1');
      await redis.del(MAINTENANCE_KEY);
      await sleep(1_500);
      expect((await t.api('mr', 'GET', '/api/conversations')).status).toBe(200);
    } finally {
      redis.disconnect();
      await t.stop();
      await server.stop();
    }
  });
});

describe('graceful shutdown', () => {
  it('loses no acknowledged message, and moves sockets away with a reconnectable close', async () => {
    const db = uniqueDbName();
    const t = await startTestCore({ SHUTDOWN_DRAIN_MS: '5000' }, { db });
    const users = ['g0', 'g1', 'g2', 'g3', 'g4'];
    const id = (await t.api('g0', 'POST', '/api/conversations', { type: 'group', name: 'drain', memberIds: users })).body.id;
    const acked: string[] = [];
    const errors: string[] = [];
    const reasons: string[] = [];
    let shutdownNotices = 0;
    const sockets = await Promise.all(users.map((user) => t.socket(user)));
    const loops = sockets.map((socket, u) => {
      socket.on('server_shutdown', () => shutdownNotices++);
      const closed = new Promise<void>((resolve) => socket.on('disconnect', (reason) => { reasons.push(reason); resolve(); }));
      const run = (async () => {
        for (let i = 0; socket.connected; i++) {
          try {
            const ack: any = await (socket as any).timeout(3_000).emitWithAck('send_message', { conversationId: id, clientMsgId: `${users[u]}-${i}`, text: `n${i}` });
            if (ack.error) errors.push(ack.error.code);
            else acked.push(ack.id);
          } catch {
            break;
          }
        }
      })();
      return Promise.all([run, closed]);
    });
    // Stop once the load is flowing (a count of acks, not a fixed time: the machine may be slow).
    for (const until = performance.now() + 15_000; acked.length <= 10 && performance.now() < until;) await sleep(20);
    await t.core.stop();
    await Promise.all(loops);
    expect(acked.length).toBeGreaterThan(10);
    expect(reasons.every((r) => r === 'transport close')).toBe(true);
    expect(shutdownNotices).toBeGreaterThan(0);
    expect(errors.every((code) => code === 'unavailable')).toBe(true);
    const client = new MongoClient(testServicesEnv().MONGODB_URI);
    try {
      const stored = await client.db(db).collection('messages').countDocuments({ _id: { $in: acked.map((x) => new ObjectId(x)) } });
      expect(stored).toBe(acked.length);
    } finally {
      await client.close();
    }
  });
});

describe('Sentry error reporting', () => {
  it('sends errors to the DSN without request data, headers or user', async () => {
    const envelopes: string[] = [];
    const receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        envelopes.push(Buffer.concat(chunks).toString('utf8'));
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const port = (receiver.address() as AddressInfo).port;
    try {
      const reporter = createErrorReporter({ dsn: `http://publickey@127.0.0.1:${port}/42`, release: 'v-test', environment: 'test', logger: createLogger({ level: 'silent', instance: 't', version: 't' }) });
      reporter.capture(new Error('boom in a handler'), { requestId: 'req-123' });
      await reporter.flush(5_000);
      expect(envelopes).toHaveLength(1);
      const envelope = envelopes[0]!;
      expect(envelope).toContain('boom in a handler');
      expect(envelope).toContain('"release":"v-test"');
      expect(envelope).toContain('req-123');
      expect(envelope).not.toMatch(/authorization/i);
    } finally {
      receiver.close();
    }
  });
});

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { createNotifier, type NotifiableMessage, type NotifierOptions, type WebhookBody } from '../src/notifications/notifier';
import { createNotifierMetrics } from '../src/notifications/notifier-metrics';
import { verifyWebhookSignature, webhookHeaders } from '../src/notifications/webhook-signature';

interface Received {
  at: number;
  headers: http.IncomingHttpHeaders;
  raw: string;
  body: WebhookBody;
}

/** A real HTTP receiver whose answers are scripted per request (default 204). */
async function startReceiver() {
  const received: Received[] = [];
  const script: { status: number; headers?: Record<string, string>; hang?: boolean }[] = [];
  const server = http.createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => { raw += chunk; });
    req.on('end', () => {
      received.push({ at: Date.now(), headers: req.headers, raw, body: JSON.parse(raw) as WebhookBody });
      const next = script.shift() ?? { status: 204 };
      if (next.hang) return;
      res.writeHead(next.status, next.headers ?? {}).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/chat`;
  return {
    url, received, script,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const secret = 'whsec_test_0123456789abcdef';
const message = (over: Partial<NotifiableMessage> = {}): NotifiableMessage => ({
  id: '65f000000000000000000001', conversationId: '65f0000000000000000000aa', seq: 7, senderId: 'alice',
  text: 'Lunch at noon? Bring the slides about the quarterly numbers.', createdAt: '2026-11-22T22:00:00.000Z', ...over,
});

const metricValue = async (registry: Registry, name: string, labels: Record<string, string> = {}) => {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  return metric?.values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))?.value;
};

let receiver: Awaited<ReturnType<typeof startReceiver>>;
const notifiers: { stop(ms?: number): Promise<void> }[] = [];
beforeEach(async () => { receiver = await startReceiver(); });
afterEach(async () => {
  await Promise.all(notifiers.splice(0).map((n) => n.stop(100)));
  await receiver.close();
});

function notifier(over: Partial<NotifierOptions> = {}) {
  const registry = new Registry();
  const online = new Set(['bob']);
  const n = createNotifier({
    webhookUrl: receiver.url, secret, preview: 0, maxAttempts: 4, baseDelayMs: 40, maxDelayMs: 1_000, timeoutMs: 2_000,
    onlineAmong: async (users) => new Set(users.filter((u) => online.has(u))),
    listMembers: async () => ['alice', 'bob', 'carol', 'dave'],
    metrics: createNotifierMetrics(registry),
    ...over,
  });
  notifiers.push(n);
  return { n, registry };
}

describe('offline notification webhook', () => {
  it('posts a signed body naming only offline recipients, without preview unless configured', async () => {
    const { n, registry } = notifier();
    expect(n.notifyMessage(message())).toBeUndefined();
    await n.idle();
    expect(receiver.received).toHaveLength(1);
    const [hit] = receiver.received;
    expect(hit!.body).toEqual({
      type: 'message.created', deliveryId: hit!.headers[webhookHeaders.delivery], conversationId: '65f0000000000000000000aa',
      messageId: '65f000000000000000000001', seq: 7, senderId: 'alice', recipients: ['carol', 'dave'], createdAt: '2026-11-22T22:00:00.000Z',
    });
    expect(hit!.raw).not.toContain('Lunch');
    expect(hit!.headers['content-type']).toBe('application/json');
    const ts = hit!.headers[webhookHeaders.timestamp] as string;
    const sig = hit!.headers[webhookHeaders.signature] as string;
    expect(sig).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(verifyWebhookSignature(secret, ts, hit!.raw, sig)).toBe(true);
    expect(verifyWebhookSignature('wrong-secret', ts, hit!.raw, sig)).toBe(false);
    expect(verifyWebhookSignature(secret, ts, hit!.raw.replace('carol', 'mallory'), sig)).toBe(false);
    expect(verifyWebhookSignature(secret, String(Number(ts) - 3600), hit!.raw, sig)).toBe(false);
    expect(await metricValue(registry, 'chat_notifications_total', { outcome: 'delivered' })).toBe(1);
    expect(await metricValue(registry, 'chat_notification_attempts_total', { result: '2xx' })).toBe(1);
  });

  it('includes a preview of N characters when configured', async () => {
    const { n } = notifier({ preview: 12 });
    n.notifyMessage(message());
    await n.idle();
    expect(receiver.received[0]!.body.preview).toBe('Lunch at noo');
  });

  it('retries 5xx and 429 with growing backoff, same delivery id, then delivers', async () => {
    receiver.script.push({ status: 503 }, { status: 429 }, { status: 500 });
    const { n, registry } = notifier();
    n.notifyMessage(message());
    await n.idle();
    expect(receiver.received).toHaveLength(4);
    expect(new Set(receiver.received.map((r) => r.headers[webhookHeaders.delivery])).size).toBe(1);
    const gaps = receiver.received.slice(1).map((r, i) => r.at - receiver.received[i]!.at);
    // base 40 ms, doubling, jitter 50-100%: >=20, >=40, >=80 ms.
    expect(gaps[0]).toBeGreaterThanOrEqual(18);
    expect(gaps[1]).toBeGreaterThanOrEqual(38);
    expect(gaps[2]).toBeGreaterThanOrEqual(78);
    expect(await metricValue(registry, 'chat_notifications_total', { outcome: 'delivered' })).toBe(1);
    expect(await metricValue(registry, 'chat_notification_attempts_total', { result: '5xx' })).toBe(2);
    expect(await metricValue(registry, 'chat_notification_attempts_total', { result: '429' })).toBe(1);
  });

  it('honours Retry-After on 429', async () => {
    receiver.script.push({ status: 429, headers: { 'retry-after': '1' } });
    const { n } = notifier();
    n.notifyMessage(message());
    await n.idle();
    expect(receiver.received).toHaveLength(2);
    expect(receiver.received[1]!.at - receiver.received[0]!.at).toBeGreaterThanOrEqual(950);
  });

  it('does not retry a 4xx refusal and counts it failed', async () => {
    receiver.script.push({ status: 400 });
    const { n, registry } = notifier();
    n.notifyMessage(message());
    await n.idle();
    await new Promise((r) => setTimeout(r, 150));
    expect(receiver.received).toHaveLength(1);
    expect(await metricValue(registry, 'chat_notifications_total', { outcome: 'failed' })).toBe(1);
  });

  it('gives up after maxAttempts when the receiver is unreachable', async () => {
    const { n, registry } = notifier({ webhookUrl: 'http://127.0.0.1:9/unreachable', maxAttempts: 3 });
    n.notifyMessage(message());
    await n.idle();
    expect(await metricValue(registry, 'chat_notification_attempts_total', { result: 'network' })).toBe(3);
    expect(await metricValue(registry, 'chat_notifications_total', { outcome: 'failed' })).toBe(1);
  });

  it('sends nothing when every other member is online, and never throws into the caller', async () => {
    const { n, registry } = notifier({ onlineAmong: async (users) => new Set(users) });
    n.notifyMessage(message());
    await n.idle();
    expect(receiver.received).toHaveLength(0);
    expect(await metricValue(registry, 'chat_notifications_total', { outcome: 'no_recipients' })).toBe(1);

    const failing = notifier({ listMembers: async () => { throw new Error('db down'); }, maxAttempts: 2 });
    expect(() => failing.n.notifyMessage(message())).not.toThrow();
    await failing.n.idle();
    expect(await metricValue(failing.registry, 'chat_notifications_total', { outcome: 'failed' })).toBe(1);
  });

  it('keeps the send path free: enqueueing 1,000 against a hanging receiver takes milliseconds; the queue is bounded', async () => {
    for (let i = 0; i < 5; i++) receiver.script.push({ status: 0, hang: true });
    const { n, registry } = notifier({ maxQueue: 500, concurrency: 2, timeoutMs: 60_000 });
    const t0 = performance.now();
    for (let i = 0; i < 1_000; i++) n.notifyMessage(message({ seq: i }));
    expect(performance.now() - t0).toBeLessThan(50);
    expect(n.pending()).toBe(500);
    expect(await metricValue(registry, 'chat_notifications_total', { outcome: 'dropped' })).toBe(500);
  });

  it('stop() cancels pending retries, aborts hanging requests and ignores later messages', async () => {
    receiver.script.push({ status: 503 });
    const { n, registry } = notifier({ baseDelayMs: 10_000, maxDelayMs: 10_000 });
    n.notifyMessage(message());
    await new Promise((r) => setTimeout(r, 200));
    expect(n.pending()).toBe(1); // waiting ~5-10 s to retry
    const t0 = performance.now();
    await n.stop(1_000);
    expect(performance.now() - t0).toBeLessThan(200);
    expect(n.pending()).toBe(0);
    expect(await metricValue(registry, 'chat_notifications_total', { outcome: 'dropped' })).toBe(1);
    n.notifyMessage(message());
    await new Promise((r) => setTimeout(r, 100));
    expect(receiver.received).toHaveLength(1);

    receiver.script.push({ status: 0, hang: true });
    const hanging = notifier({ timeoutMs: 60_000 });
    hanging.n.notifyMessage(message());
    await new Promise((r) => setTimeout(r, 200));
    const t1 = performance.now();
    await hanging.n.stop(300);
    expect(performance.now() - t1).toBeLessThan(1_000);
  });

  it('reuses a conversation member list for membersCacheMs', async () => {
    let lookups = 0;
    const { n } = notifier({ listMembers: async () => { lookups += 1; return ['alice', 'carol']; }, membersCacheMs: 60_000 });
    for (let i = 0; i < 5; i++) n.notifyMessage(message({ seq: i }));
    n.notifyMessage(message({ conversationId: '65f0000000000000000000bb' }));
    await n.idle();
    expect(receiver.received).toHaveLength(6);
    expect(lookups).toBe(2); // concurrent deliveries share one lookup per conversation
    const uncached = notifier({ listMembers: async () => { lookups += 1; return ['alice', 'carol']; }, membersCacheMs: 0 });
    lookups = 0;
    for (let i = 0; i < 3; i++) uncached.n.notifyMessage(message({ seq: i }));
    await uncached.n.idle();
    expect(lookups).toBe(3);
  });

  it('asks presence once per message for all its members, not once per member', async () => {
    const calls: number[] = [];
    const members = Array.from({ length: 200 }, (_, i) => `user${i}`);
    const { n } = notifier({ listMembers: async () => members, onlineAmong: async (users) => { calls.push(users.length); return new Set(users.slice(0, 10)); } });
    n.notifyMessage(message({ senderId: 'user0' }));
    n.notifyMessage(message({ seq: 8, senderId: 'user0' }));
    await n.idle();
    expect(calls).toEqual([199, 199]);
    expect(receiver.received.map((r) => r.body.recipients.length)).toEqual([189, 189]);
  });

  it('does nothing when no webhook URL is configured', async () => {
    const { n } = notifier({ webhookUrl: undefined });
    n.notifyMessage(message());
    expect(n.pending()).toBe(0);
  });
});

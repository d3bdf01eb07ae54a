import { io } from 'socket.io-client';
import { signLocalToken, tokenSettingsFrom } from '../../src/auth/tokens';
import { startTestCore, uniqueDbName, type TestCore } from '../../test/harness';
import { SwitchboardClient, socketIoFactory, type MessageView, type SocketLike } from '../src';

/**
 * The library against two real cores (shared MongoDB database, Redis adapter): each client talks to
 * its own instance, so every delivery below crossed instances. "Offline" is a network switch in the
 * client's socket factory and fetch: while it is off, connections go to a closed port and HTTP fails.
 */
let a: TestCore;
let b: TestCore;
let convId: string;

beforeAll(async () => {
  const db = uniqueDbName();
  a = await startTestCore({ INSTANCE_ID: 'core-a', JWT_CLOCK_TOLERANCE_S: '0' }, { redis: true, db });
  b = await startTestCore({ INSTANCE_ID: 'core-b', JWT_CLOCK_TOLERANCE_S: '0' }, { redis: true, db });
  convId = (await a.api('amy', 'POST', '/api/conversations', { type: 'group', name: 'client-lib', memberIds: ['bo'] })).body.id;
});
afterAll(async () => {
  await a?.stop();
  await b?.stop();
});

interface TestClient {
  client: SwitchboardClient;
  received: MessageView[];
  tokenReasons: string[];
  setOnline(online: boolean): void;
  dropConnection(): void;
}

const clients: SwitchboardClient[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});

function clientFor(core: TestCore, userId: string, options: { ttlS?: number } = {}): TestClient {
  let online = true;
  let socket: SocketLike | undefined;
  const tokenReasons: string[] = [];
  const real = socketIoFactory(io as never);
  const client = new SwitchboardClient({
    url: core.url,
    getToken: (reason) => (tokenReasons.push(reason), signLocalToken(tokenSettingsFrom(core.config), userId, options.ttlS ?? 3600)),
    socketFactory: (url, o) => (socket = real(online ? url : 'http://127.0.0.1:9', o)),
    fetch: ((input: string, init?: RequestInit) => (online ? fetch(input, init) : Promise.reject(new TypeError('offline')))) as typeof fetch,
    backoff: { baseMs: 50, maxMs: 300 },
    renewBeforeMs: 3_000,
  });
  client.on('error', () => undefined);
  clients.push(client);
  const received: MessageView[] = [];
  client.on('message', (m) => received.push(m));
  return {
    client,
    received,
    tokenReasons,
    setOnline: (value) => void (online = value),
    // what a network cut looks like to socket.io-client: the transport closes
    dropConnection: () => (socket as unknown as { io: { engine: { close(): void } } }).io.engine.close(),
  };
}

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const connected = (c: SwitchboardClient) => until('connected', () => c.state === 'connected');

describe('@switchboard/client against real cores', () => {
  it('delivers across instances in order, once; sends made offline are delivered once after reconnecting', async () => {
    const amy = clientFor(a, 'amy');
    const bo = clientFor(b, 'bo');
    amy.client.subscribe(convId);
    bo.client.subscribe(convId);
    amy.client.connect();
    bo.client.connect();
    await Promise.all([connected(amy.client), connected(bo.client)]);
    await until('joined', () => amy.client['conversations'].get(convId)?.high !== undefined && bo.client['conversations'].get(convId)?.high !== undefined);

    await amy.client.send(convId, 'online 1');
    amy.setOnline(false);
    amy.dropConnection();
    await until('amy reconnecting', () => amy.client.state === 'reconnecting');
    const offline = ['offline 1', 'offline 2', 'offline 3'].map((text) => amy.client.send(convId, text));
    await new Promise((r) => setTimeout(r, 300));
    expect(amy.client.pending().map((e) => e.text)).toEqual(['offline 1', 'offline 2', 'offline 3']);
    amy.setOnline(true);
    const acked = await Promise.all(offline);
    expect(acked.map((m) => m.text)).toEqual(['offline 1', 'offline 2', 'offline 3']);

    const texts = ['online 1', 'offline 1', 'offline 2', 'offline 3'];
    await until('bo has all', () => bo.received.length >= 4);
    await until('amy has all', () => amy.received.length >= 4);
    expect(bo.received.map((m) => m.text)).toEqual(texts);
    expect(amy.received.map((m) => m.text)).toEqual(texts);
    const seqs = bo.received.map((m) => m.seq);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    const history = await a.api('amy', 'GET', `/api/conversations/${convId}/messages?afterSeq=${seqs[0]! - 1}`);
    expect(history.body.items.map((m: MessageView) => m.text)).toEqual(texts); // stored exactly once
  });

  it('catches up what was sent while a reader was offline, in order, then follows live', async () => {
    const amy = clientFor(a, 'amy');
    const bo = clientFor(b, 'bo');
    const start = (await a.api('bo', 'GET', `/api/conversations/${convId}`)).body.lastSeq as number;
    bo.client.subscribe(convId, { afterSeq: start });
    amy.client.connect();
    bo.client.connect();
    await Promise.all([connected(amy.client), connected(bo.client)]);
    bo.setOnline(false);
    bo.dropConnection();
    await until('bo reconnecting', () => bo.client.state === 'reconnecting');
    for (let i = 1; i <= 5; i++) await amy.client.send(convId, `missed ${i}`);
    bo.setOnline(true);
    await connected(bo.client);
    await amy.client.send(convId, 'live');
    await until('bo caught up', () => bo.received.length >= 6);
    expect(bo.received.map((m) => m.text)).toEqual(['missed 1', 'missed 2', 'missed 3', 'missed 4', 'missed 5', 'live']);
    expect(bo.received.map((m) => m.seq)).toEqual(Array.from({ length: 6 }, (_, i) => start + 1 + i));
  });

  it('renews a short-lived token over renew_token and stays connected past its exp', async () => {
    const amy = clientFor(a, 'amy', { ttlS: 5 });
    const states: string[] = [];
    amy.client.on('stateChange', (s) => states.push(s));
    amy.client.connect();
    await connected(amy.client);
    await new Promise((r) => setTimeout(r, 6_500));
    expect(amy.client.state).toBe('connected');
    expect(states).toEqual(['connecting', 'connected']);
    expect(amy.tokenReasons.filter((r) => r === 'renew').length).toBeGreaterThanOrEqual(1);
    expect((await amy.client.send(convId, 'after exp')).text).toBe('after exp');
  });
});

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SignJWT } from 'jose';
import { io as connect, type Socket } from 'socket.io-client';
import { signLocalToken, tokenSettingsFrom } from '../../../core/src/auth/tokens';
import { configSpec, loadConfig } from '../../../core/src/config';
import { freePort } from '../../services/ports';
import { readJson } from '../../state/files';
import type { LocalState } from '../../targets/local/local-target';
import { runOps, sleep } from '../../test/helpers';
import { injectRotationClock } from '../commands';
import { RotationError, rotationStep } from '../rotation';

const NOW = new Date('2026-06-15T12:00:00Z');
const hours = (h: number) => new Date(NOW.getTime() + h * 3_600_000);

describe('rotation steps (pure)', () => {
  const old = 'local:0123456789abcdef0123456789abcdef';
  const fresh = 'k20260615-ab12:fedcba9876543210fedcba9876543210xyz';

  it('add → switch → retire changes the key list in order, and refuses out of order or too early', () => {
    const added = rotationStep('add', [old], undefined, { now: NOW, maxTokenTtlS: 3600, newEntry: fresh });
    expect(added.keys).toEqual([old, fresh]);
    expect(added.state).toMatchObject({ kid: 'k20260615-ab12', phase: 'serving-both', oldKids: ['local'] });
    expect(() => rotationStep('retire', added.keys, added.state, { now: hours(5), maxTokenTtlS: 3600 })).toThrow('does not issue tokens yet');
    expect(() => rotationStep('add', added.keys, added.state, { now: NOW, maxTokenTtlS: 3600 })).toThrow(RotationError);
    const switched = rotationStep('switch', added.keys, added.state, { now: hours(1), maxTokenTtlS: 3600 });
    expect(switched.keys).toEqual([fresh, old]);
    expect(() => rotationStep('retire', switched.keys, switched.state, { now: hours(1.5), maxTokenTtlS: 3600 })).toThrow('may be valid until 2026-06-15T14:00:00.000Z');
    expect(rotationStep('retire', switched.keys, switched.state, { now: hours(1.5), maxTokenTtlS: 3600, force: true }).keys).toEqual([fresh]);
    const retired = rotationStep('retire', switched.keys, switched.state, { now: hours(2), maxTokenTtlS: 3600 });
    expect(retired).toMatchObject({ keys: [fresh], state: { phase: 'retired', retiredAt: hours(2).toISOString() } });
    expect(() => rotationStep('switch', retired.keys, retired.state, { now: hours(3), maxTokenTtlS: 3600 })).toThrow('no rotation in progress');
  });
});

describe('ops jwt on the local target (real core instances behind nginx)', () => {
  jest.setTimeout(240_000);
  let stateDir: string;
  let env: NodeJS.ProcessEnv;
  let frontDoor: string;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jwt-rotation-'));
    const port = await freePort();
    frontDoor = `http://127.0.0.1:${port}`;
    env = {
      PATH: process.env.PATH, HOME: process.env.HOME, OPS_STATE_DIR: stateDir, OPS_LOCAL_PORT: String(port), OPS_USER: 'rota',
      MONGODB_URI: process.env.TEST_MONGODB_URI, MONGODB_DB: `jwt_rot_${process.pid}`, REDIS_URL: process.env.TEST_REDIS_URL,
      SHUTDOWN_DRAIN_MS: '2000', LOG_LEVEL: 'warn', RATE_LIMIT_API_PER_MIN: '100000', RATE_LIMIT_MESSAGES_PER_MIN: '100000',
      OPS_SKIP_PREFLIGHT: 'typecheck,lint,tests,audit', OPS_SKIP_VERIFY: 'covered by ops/verify tests',
    };
  });
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    injectRotationClock(() => new Date());
    await runOps(['stop'], env).catch(() => undefined);
    fs.rmSync(stateDir, { recursive: true, force: true });
  });

  /** The settings a token is issued under on the local target, which runs as APP_ENV=development (the only way the built-in development key is accepted). */
  const localTargetEnv = (settings: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ APP_ENV: 'development', MONGODB_URI: 'mongodb://unused', ...settings });
  const keys = () => (readJson<LocalState>(path.join(stateDir, 'local', 'target.json'))!.settings.JWT_HS256_KEYS ?? configSpec.JWT_HS256_KEYS.default).split(',');
  /** A token as the environment issues it now (first key), or signed with a given kid:secret entry. */
  const tokenWith = (entry: string, user: string) => {
    const at = entry.indexOf(':');
    return new SignJWT({}).setProtectedHeader({ alg: 'HS256', kid: entry.slice(0, at) }).setSubject(user).setIssuer('switchboard-local').setAudience('switchboard').setExpirationTime('1h').sign(new TextEncoder().encode(entry.slice(at + 1)));
  };
  const status = async (token: string) => (await fetch(`${frontDoor}/api/conversations`, { headers: { authorization: `Bearer ${token}`, connection: 'close' } })).status;

  /** A socket that rejoins after each reconnect (a drained instance sends it to a new one). */
  function session(token: string, conversationId: string) {
    const socket = connect(frontDoor, { auth: { token }, transports: ['websocket'], reconnectionDelay: 100, reconnectionDelayMax: 500 });
    sockets.push(socket);
    const s = { socket, joined: false, connects: 0, refused: 0, received: [] as string[] };
    socket.on('connect', () => {
      s.connects += 1;
      s.joined = false;
      void socket.emitWithAck('join_conversation', { conversationId }).then(() => { s.joined = true; });
    });
    socket.on('connect_error', () => { s.refused += 1; });
    socket.on('message_received', (m: { text: string }) => s.received.push(m.text));
    return s;
  }
  async function delivered(s: ReturnType<typeof session>, sender: string, conversationId: string, text: string) {
    for (let i = 0; i < 100 && !(s.socket.connected && s.joined); i++) await sleep(100);
    const sent = await fetch(`${frontDoor}/api/conversations/${conversationId}/messages`, { method: 'POST', headers: { authorization: `Bearer ${sender}`, 'content-type': 'application/json' }, body: JSON.stringify({ clientMsgId: text.replace(/\W/g, '-'), text }) });
    expect(sent.status).toBe(201);
    for (let i = 0; i < 100 && !s.received.includes(text); i++) await sleep(50);
    return s.received.includes(text);
  }

  it('add → switch → retire with rolling restarts: sessions stay, old tokens verify until retire, then are refused', async () => {
    expect((await runOps(['deploy', '-m', 'before rotation', '--instances', '2'], env)).code).toBe(0);
    const [original] = keys();
    const oldToken = await signLocalToken(tokenSettingsFrom(loadConfig(localTargetEnv())), 'olga', 3600);
    const pietOld = await tokenWith(original!, 'piet');
    const created = await fetch(`${frontDoor}/api/conversations`, { method: 'POST', headers: { authorization: `Bearer ${oldToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ type: 'direct', memberIds: ['piet'] }) });
    const conversationId = ((await created.json()) as { id: string }).id;
    const olga = session(oldToken, conversationId);
    expect(await delivered(olga, pietOld, conversationId, 'before any rotation')).toBe(true);

    const add = await runOps(['jwt', 'add', '--max-token-ttl', '12h'], env);
    expect(add.code).toBe(0);
    const [first, added] = keys();
    expect(first).toBe(original);
    const pietNew = await tokenWith(added!, 'piet');
    expect([await status(oldToken), await status(pietNew)]).toEqual([200, 200]);
    expect(await delivered(olga, pietNew, conversationId, 'after add')).toBe(true);

    const switched = await runOps(['jwt', 'switch'], env);
    // On failure the ops output (which step, the instance's log tail) is what tells why.
    if (switched.code !== 0) console.error(switched.stderr);
    expect(switched.code).toBe(0);
    expect(keys()).toEqual([added, original]);
    const issuedNow = await signLocalToken(tokenSettingsFrom(loadConfig(localTargetEnv({ JWT_HS256_KEYS: keys().join(',') }))), 'olga', 3600);
    expect(issuedNow.length).toBeGreaterThan(0);
    expect([await status(oldToken), await status(issuedNow)]).toEqual([200, 200]);
    expect(await delivered(olga, pietNew, conversationId, 'after switch')).toBe(true);
    // The old-key session survived two rolling restarts (it reconnected to new instances with its token).
    expect(olga.refused).toBe(0);
    expect(olga.connects).toBeGreaterThan(1);

    const early = await runOps(['jwt', 'retire'], env);
    expect(early.code).toBe(2);
    expect(early.stderr).toContain('retiring now would end those sessions');
    const fresh = session(issuedNow, conversationId);
    injectRotationClock(() => new Date(Date.now() + 13 * 3_600_000));
    expect((await runOps(['jwt', 'retire'], env)).code).toBe(0);
    expect(keys()).toEqual([added]);
    expect([await status(oldToken), await status(issuedNow)]).toEqual([401, 200]);
    expect(await delivered(fresh, pietNew, conversationId, 'after retire')).toBe(true);
    expect(fresh.refused).toBe(0);
    const st = await runOps(['jwt', 'status', '--json'], env);
    expect(JSON.parse(st.stdout).rotation).toMatchObject({ phase: 'retired', oldKids: ['local'] });
  });
});

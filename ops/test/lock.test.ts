import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { forkModule } from '../process';
import { acquireLock, forceRelease, LockHeldError, LockLostError, lockFile, readLock, removeIfSame, renewLock } from '../state/lock';

const request = { owner: 'alice', message: 'deploy v7', ttlMs: 60_000, kind: 'command' as const, command: 'ops deploy' };
let dir: string;
beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ops-lock-')); });
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

test('a held lock refuses a second holder and names the owner and message', () => {
  acquireLock(dir, 'local', request);
  expect(() => acquireLock(dir, 'local', { ...request, owner: 'bob' })).toThrow(LockHeldError);
  expect(() => acquireLock(dir, 'local', { ...request, owner: 'bob' })).toThrow(/held by alice .*"deploy v7"/);
});

test('locks are per environment', () => {
  acquireLock(dir, 'local', request);
  expect(() => acquireLock(dir, 'staging', request)).not.toThrow();
});

test('an expired lock is taken over and reported', () => {
  acquireLock(dir, 'local', { ...request, ttlMs: -1, kind: 'manual' });
  const { lock, takenOver } = acquireLock(dir, 'local', { ...request, owner: 'bob' });
  expect(takenOver).toMatchObject({ owner: 'alice', reason: expect.stringMatching(/expired/) });
  expect(readLock(dir, 'local')?.id).toBe(lock.id);
});

test('a command lock is judged by its heartbeat expiry, not by its PID (which another process may reuse)', () => {
  const file = lockFile(dir, 'local');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const t0 = Date.parse('2026-01-01T10:00:00Z');
  // pid 1 is always alive: an old PID check would have kept this lock forever; a gone PID would have freed it at once.
  fs.writeFileSync(file, JSON.stringify({ id: 'x', env: 'local', owner: 'ghost', message: 'killed -9', kind: 'command', command: 'ops deploy', host: os.hostname(), pid: 1, acquiredAt: new Date(t0).toISOString(), heartbeatAt: new Date(t0).toISOString(), expiresAt: new Date(t0 + 120_000).toISOString(), ttlMs: 120_000 }));
  expect(() => acquireLock(dir, 'local', request, t0 + 60_000)).toThrow(LockHeldError);
  const { takenOver } = acquireLock(dir, 'local', request, t0 + 120_001);
  expect(takenOver?.reason).toMatch(/expired at .* \(no heartbeat since 2026-01-01T10:00:00.000Z\)/);
});

test('renewing extends the expiry; once taken over, the old holder learns it lost the lock', () => {
  const t0 = Date.parse('2026-01-01T10:00:00Z');
  const held = acquireLock(dir, 'local', { ...request, ttlMs: 30_000 }, t0);
  const renewed = renewLock(dir, 'local', held, t0 + 20_000);
  expect(readLock(dir, 'local')?.expiresAt).toBe(new Date(t0 + 50_000).toISOString());
  expect(() => acquireLock(dir, 'local', { ...request, owner: 'bob' }, t0 + 40_000)).toThrow(LockHeldError);
  acquireLock(dir, 'local', { ...request, owner: 'bob' }, t0 + 50_001);
  expect(() => renewLock(dir, 'local', renewed, t0 + 51_000)).toThrow(LockLostError);
  expect(removeIfSame(dir, 'local', renewed.lock.id)).toBe(false);
  expect(readLock(dir, 'local')?.owner).toBe('bob');
});

test('a manual lock is not taken over while its command has exited', () => {
  acquireLock(dir, 'local', { ...request, kind: 'manual' });
  expect(() => acquireLock(dir, 'local', { ...request, owner: 'bob' })).toThrow(LockHeldError);
});

test('release removes only our own lock; force release removes any', () => {
  const { lock } = acquireLock(dir, 'local', request);
  expect(removeIfSame(dir, 'local', 'someone-else')).toBe(false);
  expect(readLock(dir, 'local')).toBeDefined();
  expect(removeIfSame(dir, 'local', lock.id)).toBe(true);
  acquireLock(dir, 'local', request);
  expect(forceRelease(dir, 'local')?.owner).toBe('alice');
  expect(readLock(dir, 'local')).toBeUndefined();
});

test('of many simultaneous takeovers of an expired lock, exactly one wins', async () => {
  acquireLock(dir, 'local', { ...request, ttlMs: -1, kind: 'manual' });
  const script = path.join(dir, 'take.js');
  fs.writeFileSync(script, `require(${JSON.stringify(require.resolve('tsx/cjs'))});
const { acquireLock } = require(${JSON.stringify(path.join(__dirname, '..', 'state', 'lock.ts'))});
try { acquireLock(process.argv[2], 'local', { owner: 'p' + process.pid, message: 'race', ttlMs: 60000, kind: 'manual', command: 'test' }); process.send('won'); }
catch (e) { process.send(e.constructor.name); }`);
  const results = await Promise.all(Array.from({ length: 6 }, () => new Promise<string>((resolve) => {
    const child = forkModule(script, [dir]);
    child.once('message', (m) => resolve(String(m)));
  })));
  expect(results.filter((r) => r === 'won')).toHaveLength(1);
});

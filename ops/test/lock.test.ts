import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { forkModule } from '../process';
import { acquireLock, forceRelease, LockHeldError, lockFile, readLock, removeIfSame } from '../state/lock';

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

test('a command lock whose process is gone is taken over before its expiry', () => {
  const file = lockFile(dir, 'local');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify({ id: 'x', env: 'local', owner: 'ghost', message: 'killed -9', kind: 'command', command: 'ops deploy', host: os.hostname(), pid: 2 ** 22 + 12345, acquiredAt: new Date().toISOString(), expiresAt: new Date(Date.now() + 3_600_000).toISOString() }));
  const { takenOver } = acquireLock(dir, 'local', request);
  expect(takenOver?.reason).toMatch(/process .* is gone/);
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

import { provision, ProvisionError, type ProvisionStep } from '../services/provision';
import { requireGoBinary } from '../services/go-binaries';
import { requireCommand } from '../services/system-packages';

const step = (name: string, state: { done: boolean }, run: () => Promise<void> = async () => { state.done = true; }): ProvisionStep =>
  ({ name, what: `fetch ${name}`, isDone: () => state.done, run, fix: `install ${name} by hand` });

test('runs only the missing steps, in order, and reports each with its duration', async () => {
  const lines: string[] = [];
  const order: string[] = [];
  const a = { done: true };
  const b = { done: false };
  const reports = await provision([step('a', a), step('b', b, async () => { order.push('b'); b.done = true; })], (l) => lines.push(l));
  expect(order).toEqual(['b']);
  expect(reports.map((r) => [r.name, r.outcome])).toEqual([['a', 'present'], ['b', 'provisioned']]);
  expect(lines[0]).toBe('▸ b: fetch b ...');
  expect(lines[1]).toMatch(/^✓ b \(\d+\.\d s\)$/);
});

test('a failed step stops the run with one message naming what is missing and how to install it', async () => {
  const c = { done: false };
  let later = false;
  const failing = step('toolx 1.2', { done: false }, async () => { throw new Error('download refused'); });
  const error = await provision([failing, step('c', c, async () => { later = true; })], () => undefined).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ProvisionError);
  expect((error as Error).message).toMatch(/^provisioning failed at "toolx 1.2": download refused\n {2}install it by hand: install toolx 1.2 by hand\n/);
  expect(later).toBe(false);
});

test('a step that "succeeds" without providing its result is a failure', async () => {
  await expect(provision([step('ghost', { done: false }, async () => undefined)], () => undefined)).rejects.toThrow(/still not found/);
});

test('the finders never install: a missing tool names the command that provides it', () => {
  expect(() => requireCommand('no-such-daemon-xyz', 'xyz-server')).toThrow('no-such-daemon-xyz is not installed. Install it with `npm run services -- provision` (as root), or: sudo apt-get install -y xyz-server');
  const saved = process.env.MINIO_BINARY;
  process.env.MINIO_BINARY = '/nonexistent/minio';
  try {
    expect(() => requireGoBinary('minio')).toThrow(/minio v0\.0\.0-\S+ is not provisioned \(\/nonexistent\/minio is missing\)\. Build it with: npm run services -- provision \(runs go install github\.com\/minio\/minio@v0\.0\.0-/);
  } finally {
    if (saved === undefined) delete process.env.MINIO_BINARY;
    else process.env.MINIO_BINARY = saved;
  }
});

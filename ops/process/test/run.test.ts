import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CommandError, commandLine, findCommand, groupMembers, registryDir, run, runSync, startChild, sweepOrphans } from '..';

test('run passes arguments unquoted by any shell and captures output', async () => {
  const result = await run('printf', ['%s|', 'a b', '$HOME', "it's"]);
  expect(result.stdout).toBe("a b|$HOME|it's|");
  expect(runSync('printf', ['%s', '; echo no']).stdout).toBe('; echo no');
});

test('a failure names what ran, the exit code, the last stderr lines and the next step', async () => {
  const error = await run('sh', ['-c', 'echo one >&2; echo two >&2; exit 3'], { next: 'fix it' }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(CommandError);
  expect((error as CommandError).exitCode).toBe(3);
  expect((error as Error).message).toBe("`sh -c $'echo one >&2; echo two >&2; exit 3'` exited with code 3\n  last stderr lines:\n    one\n    two\n  next: fix it");
  expect(() => runSync('false', [])).toThrow(/`false` exited with code 1/);
  expect((await run('false', [], { nothrow: true })).exitCode).toBe(1);
});

test('a command that runs past its timeout is killed and reported as timed out', async () => {
  const error = (await run('sleep', ['30'], { timeoutMs: 300 }).catch((e: unknown) => e)) as CommandError;
  expect(error).toBeInstanceOf(CommandError);
  expect(error.timedOut).toBe(true);
  expect(error.message).toMatch(/^`sleep 30` timed out/);
});

test('commandLine quotes only what needs it; findCommand finds Debian daemons outside PATH', () => {
  expect(commandLine('go', ['install', 'a/b@v1.2.3', 'x y'])).toBe("go install a/b@v1.2.3 $'x y'");
  expect(findCommand('sh')).toMatch(/\/sh$/);
  expect(findCommand('no-such-command-here')).toBeUndefined();
});

test('a child service runs in its own process group and stop() ends the whole group', async () => {
  const log = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'proc-test-')), 'child.log');
  const child = startChild({ name: 'sleeper', command: 'sh', args: ['-c', 'sleep 60 & echo started; wait'], logFile: log });
  for (let i = 0; i < 50 && !fs.readFileSync(log, 'utf8').includes('started'); i++) await new Promise((r) => setTimeout(r, 50));
  const group = fs.readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[2];
  expect(Number(group)).toBe(child.pid);
  await child.stop(2_000);
  expect(child.exitStatus()).toMatch(/exited/);
  expect(groupMembers(child.pid)).toEqual([]); // no process of the group is left (zombies aside)
});

test('runSync also enforces its timeout', () => {
  const started = Date.now();
  expect(() => runSync('sleep', ['30'], { timeoutMs: 300 })).toThrow(/^`sleep 30` timed out/);
  expect(Date.now() - started).toBeLessThan(10_000);
});

test('sweepOrphans stops a registered service whose owner died, and leaves a live owner\'s alone', async () => {
  const log = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'proc-test-')), 'orphan.log');
  const orphan = startChild({ name: 'orphan-sleeper', command: 'sleep', args: ['60'], logFile: log });
  const kept = startChild({ name: 'kept-sleeper', command: 'sleep', args: ['60'], logFile: log });
  try {
    // Pretend the orphan's owner was a process that has since died.
    const file = path.join(registryDir, `${orphan.pid}.json`);
    fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(fs.readFileSync(file, 'utf8')), owner: 2 ** 22 + 4321, ownerStartTime: '1' }));
    const swept = sweepOrphans();
    expect(swept.filter((l) => l.startsWith('orphan-sleeper'))).toEqual([expect.stringContaining(`pid ${orphan.pid}, started by dead pid ${2 ** 22 + 4321}`)]);
    expect(swept.some((l) => l.startsWith('kept-sleeper'))).toBe(false);
    await orphan.exited;
    expect(orphan.exitStatus()).toBe('exited with SIGKILL');
    expect(kept.exitStatus()).toBeUndefined();
  } finally {
    await kept.stop(1_000);
  }
  expect(fs.existsSync(path.join(registryDir, `${kept.pid}.json`))).toBe(false);
});

import path from 'node:path';
import { runSync } from '../process';
import { runCli } from '../cli/main';
import { commands, optionalModule } from '../cli/registry';
import { runOps } from './helpers';

const env = { OPS_STATE_DIR: '/nonexistent/ops-state-for-help' };

test('every command path is registered once', () => {
  const keys = commands.map((c) => c.path.join(' '));
  expect(new Set(keys).size).toBe(keys.length);
  for (const p of ['deploy', 'rollback', 'releases', 'lock acquire', 'lock status', 'lock release', 'maintenance on', 'maintenance off', 'maintenance status', 'status', 'audit', 'backup', 'backup list', 'backup prune', 'backup verify', 'restore', 'jobs list', 'jobs run']) {
    expect(keys).toContain(p);
  }
});

test('every command of the ops CLI itself has a handler in the module the registry loads', async () => {
  const own = commands.filter((c) => c.options);
  expect(own.length).toBeGreaterThan(10);
  for (const entry of own) {
    const module = await entry.load();
    expect(typeof module.handlers[entry.path.join(' ')]).toBe('function');
  }
});

test.each(commands.map((c) => [c.path.join(' ')]))('ops %s --help prints its usage and exits 0', async (name) => {
  const run = await runOps([...name.split(' '), '--help'], env);
  expect(run.code).toBe(0);
  expect(run.stdout).toMatch(/^usage: ops /);
});

test('ops --help lists every command; unknown commands and options exit 2 with the next step', async () => {
  const help = await runOps(['--help'], env);
  expect(help.code).toBe(0);
  for (const c of commands) expect(help.stdout).toContain(c.path.join(' '));
  const unknown = await runOps(['deploi'], env);
  expect(unknown.code).toBe(2);
  expect(unknown.stderr).toContain('next: ops --help');
  const badOption = await runOps(['deploy', '--colour'], env);
  expect(badOption.code).toBe(2);
  expect(badOption.stderr).toContain('next: ops deploy --help');
  const group = await runOps(['lock'], env);
  expect(group.code).toBe(2);
  expect(group.stderr).toContain('lock acquire');
});

test('a registered command whose module does not exist fails clearly with "not implemented yet"', async () => {
  expect(await optionalModule('no-such-group/commands')()).toEqual({ handlers: {} });
  commands.push({ path: ['zz-test', 'missing'], summary: 'test only', load: optionalModule('no-such-group/commands') });
  try {
    const run = await runOps(['zz-test', 'missing', '--json'], env);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('ops zz-test missing is not implemented yet');
    expect(JSON.parse(run.stdout)).toMatchObject({ ok: false, command: 'ops zz-test missing' });
  } finally {
    commands.pop();
  }
});

test('failures print the next command and exit non-zero', async () => {
  const run = await runOps(['lock', 'acquire'], { OPS_STATE_DIR: '/tmp/ops-cli-test-unused' });
  expect(run.code).toBe(2);
  expect(run.stderr).toContain('next: ops lock acquire -m');
  const rollback = await runCli(['rollback', '--env', 'local', '--state-dir', '/tmp/ops-cli-test-empty'], { stdout: { write: () => true }, stderr: { write: () => true } }, {});
  expect(rollback).toBe(2);
});

test('the ops executable runs the same CLI', () => {
  const out = runSync(path.join(__dirname, '..', 'bin', 'ops'), ['--help'], { timeoutMs: 60_000 }).stdout;
  expect(out).toContain('usage: ops <command>');
});

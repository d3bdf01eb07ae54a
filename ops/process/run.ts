import { spawnSync, type SpawnSyncOptions } from './node-child';
import fs from 'node:fs';
import path from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { $, ProcessOutput, quote } from 'zx';

/**
 * The one process layer of `ops/` (and of the local services the tests use): every external
 * command runs through zx here, with a timeout, the command line echoed when verbose, and a failure
 * that says what ran, how it ended, the last lines it printed on stderr and what to do next.
 */

export interface RunOptions {
  cwd?: string;
  /** Added to (not replacing) our own environment. */
  env?: NodeJS.ProcessEnv;
  /** Killed (SIGTERM) after this long; default 2 minutes. Long builds pass their own budget. */
  timeoutMs?: number;
  /** Written to the command's stdin. */
  input?: string;
  /** Copy the command's output to our stderr while it runs (long builds, installers), still captured. */
  stream?: boolean;
  /** What the reader should do when it fails: shown after the stderr tail. */
  next?: string;
  /** Return the result instead of throwing when the exit code is not 0. */
  nothrow?: boolean;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  ok: boolean;
}

const DEFAULT_TIMEOUT_MS = 120_000;
let verbose = process.env.SWITCHBOARD_VERBOSE === '1';

/** `--verbose`: echo every command line (to stderr) before it runs. */
export function setVerbose(on: boolean): void {
  verbose = on;
}

/** The command as a person would type it (shell-quoted). */
export function commandLine(command: string, args: readonly string[] = []): string {
  return [command, ...args].map((part) => (/^[\w@%+=:,./-]+$/.test(part) ? part : quote(part))).join(' ');
}

/** A command that failed: what ran, its exit code or signal, the last stderr lines and the next step. */
export class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly exitCode: number | null,
    readonly signal: NodeJS.Signals | null,
    readonly stderrTail: string,
    readonly next: string | undefined,
    readonly timedOut: boolean,
  ) {
    const how = timedOut ? 'timed out (killed)' : signal ? `was killed by ${signal}` : `exited with code ${exitCode}`;
    super([
      `\`${command}\` ${how}`,
      ...(stderrTail ? ['  last stderr lines:', ...stderrTail.split('\n').map((l) => `    ${l}`)] : []),
      ...(next ? [`  next: ${next}`] : []),
    ].join('\n'));
    this.name = 'CommandError';
  }
}

/** How to install the CLIs ops drives, for the message of a missing one. */
const installHints: Record<string, string> = {
  kubectl: 'install kubectl (https://kubernetes.io/docs/tasks/tools/) and put it on PATH',
  pulumi: 'install the Pulumi CLI (curl -fsSL https://get.pulumi.com | sh) and put it on PATH; then pulumi login',
  aws: 'install the AWS CLI v2 and put it on PATH',
};

/** A CLI ops needs is not installed (or not on PATH): named, with how to install it — never a bare exit code. */
export class MissingCommandError extends Error {
  readonly install: string;
  constructor(readonly command: string) {
    const install = installHints[command] ?? `install ${command} and put it on PATH`;
    super(`${command} is not installed (not found on PATH)`);
    this.name = 'MissingCommandError';
    this.install = install;
  }
}

/** Throws MissingCommandError unless `command` is on PATH. */
export function requireCommand(command: string): void {
  if (!findCommand(command)) throw new MissingCommandError(command);
}

/** The last `lines` non-empty lines of a command's stderr (or stdout when stderr is empty). */
export function tail(text: string, lines = 12): string {
  return text.split('\n').map((l) => l.trimEnd()).filter(Boolean).slice(-lines).join('\n');
}

/**
 * zx options shared by both forms: our environment plus the caller's, quiet, never throwing (we
 * do, with a better message). `exec` makes the command replace zx's shell, so the pid zx holds is
 * the command's own and a timeout signals exactly it (zx's own timeout walks the process tree with
 * `ps` instead, slower and noisy on Node 24).
 */
const zxOptions = (options: RunOptions) => ({
  cwd: options.cwd,
  env: { ...process.env, ...options.env },
  input: options.input,
  nothrow: true,
  quiet: true,
  verbose: false,
  prefix: 'exec ',
  postfix: '',
});

const KILL_GRACE_MS = 5_000;

/** Echoes a command line when --verbose (for the other forms of this layer, e.g. attached.ts). */
export function echo(line: string): void {
  if (verbose) process.stderr.write(`$ ${line}\n`);
}

function toResult(line: string, output: ProcessOutput, options: RunOptions, timedOut: boolean): RunResult {
  const result: RunResult = { stdout: stripVTControlCharacters(output.stdout), stderr: stripVTControlCharacters(output.stderr), exitCode: output.exitCode, signal: output.signal, ok: output.exitCode === 0 && !timedOut };
  if (result.ok || options.nothrow) return result;
  throw new CommandError(line, output.exitCode, output.signal, tail(result.stderr || result.stdout), options.next, timedOut);
}

/** Runs `command args...` (arguments are quoted, never interpreted by a shell) and resolves with its output. */
export async function run(command: string, args: readonly string[] = [], options: RunOptions = {}): Promise<RunResult> {
  if (!command.includes('/') && !options.env?.PATH) requireCommand(command);
  const line = commandLine(command, args);
  echo(line);
  const process$ = $(zxOptions(options))`${command} ${args}`;
  if (options.stream) {
    // Without colour codes: some tools (Maven 3.8 with -q) print ANSI resets even with colour off and no TTY.
    const copy = (chunk: Buffer) => process.stderr.write(stripVTControlCharacters(chunk.toString()));
    process$.stdout.on('data', copy);
    process$.stderr.on('data', copy);
  }
  let timedOut = false;
  let killTimer: NodeJS.Timeout | undefined;
  const timer = setTimeout(() => {
    timedOut = true;
    process$.child?.kill('SIGTERM');
    killTimer = setTimeout(() => process$.child?.kill('SIGKILL'), KILL_GRACE_MS);
  }, options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  try {
    return toResult(line, await process$, options, timedOut);
  } finally {
    clearTimeout(timer);
    clearTimeout(killTimer);
  }
}

/** The synchronous form of {@link run}, for the few callers that cannot await (config checks, reloads). */
export function runSync(command: string, args: readonly string[] = [], options: Omit<RunOptions, 'stream'> = {}): RunResult {
  if (!command.includes('/') && !options.env?.PATH) requireCommand(command);
  const line = commandLine(command, args);
  echo(line);
  const timeout = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  let timedOut = false;
  const output = $({
    ...zxOptions(options),
    sync: true,
    // zx has no timeout in sync mode: spawnSync's own kills the command.
    spawnSync: ((file: string, argv: readonly string[], opts: SpawnSyncOptions) => {
      const result = spawnSync(file, argv, { ...opts, timeout, killSignal: 'SIGTERM' });
      timedOut = (result.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT';
      return result;
    }) as typeof spawnSync,
  })`${command} ${args}`;
  return toResult(line, output, options, timedOut);
}

/** Absolute path of a command on PATH (or in /usr/sbin, /usr/bin, where Debian puts daemons), or undefined. */
export function findCommand(command: string): string | undefined {
  if (command.includes('/')) return isExecutable(command) ? command : undefined;
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
  return dirs.map((dir) => path.join(dir, command)).find(isExecutable);
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

import fs from 'node:fs';
import path from 'node:path';
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

/** The last `lines` non-empty lines of a command's stderr (or stdout when stderr is empty). */
export function tail(text: string, lines = 12): string {
  return text.split('\n').map((l) => l.trimEnd()).filter(Boolean).slice(-lines).join('\n');
}

/** zx options shared by both forms: our environment plus the caller's, quiet, never throwing (we do). */
const zxOptions = (options: RunOptions) => ({
  cwd: options.cwd,
  env: { ...process.env, ...options.env },
  input: options.input,
  timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
  nothrow: true,
  quiet: true,
  verbose: false,
});

function echo(line: string): void {
  if (verbose) process.stderr.write(`$ ${line}\n`);
}

function toResult(line: string, output: ProcessOutput, options: RunOptions, timeoutMs: number): RunResult {
  const result: RunResult = { stdout: output.stdout, stderr: output.stderr, exitCode: output.exitCode, signal: output.signal, ok: output.exitCode === 0 };
  if (result.ok || options.nothrow) return result;
  const timedOut = output.signal === 'SIGTERM' && output.duration >= timeoutMs - 50;
  throw new CommandError(line, output.exitCode, output.signal, tail(output.stderr || output.stdout), options.next, timedOut);
}

/** Runs `command args...` (arguments are quoted, never interpreted by a shell) and resolves with its output. */
export async function run(command: string, args: readonly string[] = [], options: RunOptions = {}): Promise<RunResult> {
  const line = commandLine(command, args);
  echo(line);
  const process$ = $(zxOptions(options))`${command} ${args}`;
  if (options.stream) {
    process$.stdout.on('data', (chunk: Buffer) => process.stderr.write(chunk));
    process$.stderr.on('data', (chunk: Buffer) => process.stderr.write(chunk));
  }
  const output = await process$;
  return toResult(line, output, options, options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
}

/** The synchronous form of {@link run}, for the few callers that cannot await (config checks, reloads). */
export function runSync(command: string, args: readonly string[] = [], options: Omit<RunOptions, 'stream'> = {}): RunResult {
  const line = commandLine(command, args);
  echo(line);
  const output = $({ ...zxOptions(options), sync: true })`${command} ${args}`;
  return toResult(line, output, options, options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
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

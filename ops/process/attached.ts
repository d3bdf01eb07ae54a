import { $ } from 'zx';
import { commandLine, echo, requireCommand } from './run';

/**
 * Commands whose output is the result itself and that may run until Ctrl-C (`kubectl logs -f`,
 * `kubectl port-forward`, `ops exec -- <command>`): output passed through chunk by chunk as it
 * arrives instead of captured, stdin optionally the operator's terminal, stopped by an AbortSignal.
 * Still zx, like {@link run}: arguments are quoted, never interpreted by a shell.
 */
export interface AttachedOptions {
  cwd?: string;
  /** The command's whole environment (default: ours). Callers that add to ours spread process.env themselves. */
  env?: NodeJS.ProcessEnv;
  /** `inherit`: the command reads the operator's terminal (an interactive shell); default: no stdin. */
  stdin?: 'inherit' | 'ignore';
  onStdout(chunk: string): void;
  onStderr(chunk: string): void;
  /** Aborting sends SIGTERM (Ctrl-C on a follow or a tunnel). */
  signal?: AbortSignal;
}

export interface AttachedResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
}

export async function runAttached(command: string, args: readonly string[], options: AttachedOptions): Promise<AttachedResult> {
  // The command is looked up in its own environment's PATH when one is given (ops exec: the instance's).
  if (!command.includes('/') && !options.env) requireCommand(command);
  echo(commandLine(command, args));
  const child = $({
    cwd: options.cwd,
    env: options.env ?? process.env,
    nothrow: true,
    quiet: true,
    verbose: false,
    prefix: 'exec ',
    postfix: '',
    stdio: [options.stdin ?? 'ignore', 'pipe', 'pipe'],
    // Node's spawn kills the command (SIGTERM) on abort, also when aborted before it started; not zx's
    // own kill(), which walks the process tree with `ps` (slow, and a deprecation warning on Node 24).
    ...(options.signal ? { signal: options.signal } : {}),
  })`${command} ${args}`;
  child.stdout.on('data', (chunk: Buffer) => options.onStdout(chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => options.onStderr(chunk.toString()));
  const output = await child;
  return { exitCode: output.exitCode, signal: output.signal };
}

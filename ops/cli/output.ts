/** A failure the operator can act on: what went wrong, and the next command to run. */
/**
 * Exit code of a command that could not tell (status, maintenance status, preflight): a dependency it
 * needs is not set up or not reachable. Distinct from 1 (known bad) so scripts never read "unknown" as "off".
 */
export const EXIT_UNKNOWN = 4;

/** Something a command could not determine: why, and the command that would let it. */
export interface Unknown {
  what: string;
  reason: string;
  next: string;
}

export const describeUnknown = (u: Unknown): string => `${u.what}: unknown (${u.reason}) → next: ${u.next}`;

export class OpsError extends Error {
  constructor(message: string, readonly next?: string, readonly exitCode = 1) {
    super(message);
  }
}

export interface StepRecord {
  name: string;
  ms: number;
  ok: boolean;
  error?: string;
}

export interface Output {
  readonly json: boolean;
  readonly steps: StepRecord[];
  /** A progress line (stderr, so stdout stays machine-readable). */
  info(line: string): void;
  warn(line: string): void;
  /** Runs one named step, printing its start, outcome and duration. */
  step<T>(name: string, fn: () => Promise<T> | T): Promise<T>;
  /** The command's result: JSON on stdout with --json, otherwise the human text. */
  result(data: unknown, human: string): void;
  /** Raw output on stdout as it arrives (ops logs, ops exec: another program's output, passed through). */
  write(chunk: string): void;
}

export interface Streams {
  stdout: { write(chunk: string): unknown };
  stderr: { write(chunk: string): unknown };
}

export const formatMs = (ms: number): string => (ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`);

export function createOutput(streams: Streams, json: boolean): Output {
  const steps: StepRecord[] = [];
  const err = (line: string) => streams.stderr.write(`${line}\n`);
  return {
    json,
    steps,
    info: (line) => err(line),
    warn: (line) => err(`warning: ${line}`),
    async step(name, fn) {
      const started = performance.now();
      err(`▸ ${name} ...`);
      try {
        const value = await fn();
        const ms = performance.now() - started;
        steps.push({ name, ms: Math.round(ms), ok: true });
        err(`✓ ${name} (${formatMs(ms)})`);
        return value;
      } catch (error) {
        const ms = performance.now() - started;
        steps.push({ name, ms: Math.round(ms), ok: false, error: (error as Error).message });
        err(`✗ ${name} failed after ${formatMs(ms)}`);
        throw error;
      }
    },
    write: (chunk) => streams.stdout.write(chunk),
    result(data, human) {
      streams.stdout.write(json ? `${JSON.stringify(data, null, 2)}\n` : human.endsWith('\n') || human === '' ? human : `${human}\n`);
    },
  };
}

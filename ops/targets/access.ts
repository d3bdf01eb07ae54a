import type { Unknown } from '../cli/output';

/** What `ops details` shows of one instance (local process or pod), from either target's access module. */
export interface InstanceDetail {
  name: string;
  version?: string;
  ready: boolean;
  restarts?: number;
  startedAt?: string;
  node?: string;
  /** Fields that could not be read: printed as unknown with why and the next command. */
  unknowns: Unknown[];
}

/** Where `ops logs` / `ops exec` pass another program's output, and what stops them (Ctrl-C). */
export interface Passthrough {
  write(chunk: string): void;
  writeErr(chunk: string): void;
  signal: AbortSignal;
}

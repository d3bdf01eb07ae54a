/**
 * The one error type of the backup toolkit: a stable code, a message that names what failed,
 * and the next thing to try. `commands.ts` maps it to an exit code and (with --json) an object.
 */
export type BackupErrorCode =
  | 'usage'
  | 'refused'
  | 'not_found'
  | 'missing_bucket'
  | 'bad_credentials'
  | 'storage'
  | 'corrupted'
  | 'target_not_empty'
  | 'restore_failed'
  | 'verify_failed'
  | 'unsupported';

export class BackupError extends Error {
  constructor(
    readonly code: BackupErrorCode,
    message: string,
    readonly hint?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'BackupError';
  }

  /** Exit code: 2 for usage errors and refusals, 1 for everything else. */
  get exitCode(): number {
    return this.code === 'usage' || this.code === 'refused' ? 2 : 1;
  }
}

export function describeError(error: unknown): { code: string; message: string; hint?: string } {
  if (error instanceof BackupError) return { code: error.code, message: error.message, ...(error.hint ? { hint: error.hint } : {}) };
  return { code: 'internal', message: error instanceof Error ? error.message : String(error) };
}

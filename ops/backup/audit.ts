import path from 'node:path';
import type { AuditEntry } from '../state/audit-log';
import { whoOf } from '../state/context';
import { dirState } from '../state/dir-state';
import type { OpsState } from '../state/ops-state';
import { repoRoot } from '../services/paths';

/**
 * The one function the backup toolkit writes audit records through: one entry in the ops CLI's
 * append-only audit log of the environment (its state backend: <stateDir>/audit.jsonl, or the shared
 * S3 audit of a Kubernetes stack when OPS_STATE_URL is set), next to deploys, locks, maintenance.
 */
export interface BackupAudit {
  /** backup, restore, backup.verify, backup.prune, ... */
  action: string;
  /** What it acted on: backup id, location, database. */
  target: Record<string, string>;
  outcome: 'success' | 'failure' | 'refused';
  details?: Record<string, unknown>;
}

export interface AuditContext {
  stateDir: string;
  env: string;
  who: string;
  /** The environment's state backend (default: the directory backend of stateDir). */
  state?: OpsState;
}

let configured: AuditContext | undefined;

/** Set by commands.ts from the CLI context (--state-dir, --env); otherwise read from the environment. */
export function setAuditContext(context: AuditContext | undefined): void {
  configured = context;
}

export function auditContext(): AuditContext {
  if (configured) return configured;
  const env = process.env;
  return { stateDir: path.resolve(env.OPS_STATE_DIR ?? path.join(repoRoot, 'var', 'ops')), env: env.OPS_ENV ?? 'local', who: whoOf(env) };
}

const outcomes = { success: 'succeeded', failure: 'failed', refused: 'refused' } as const;

export async function writeAudit(record: BackupAudit): Promise<AuditEntry> {
  const ctx = auditContext();
  return (ctx.state ?? dirState(ctx.stateDir)).appendAudit({
    who: ctx.who,
    env: ctx.env,
    action: record.action,
    outcome: outcomes[record.outcome],
    ...record.target,
    ...(record.details ? { details: record.details } : {}),
    ...(typeof record.details?.durationMs === 'number' ? { durationMs: record.details.durationMs } : {}),
  });
}

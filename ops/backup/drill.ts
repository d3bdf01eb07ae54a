import fs from 'node:fs';
import path from 'node:path';
import type { MongoClient } from 'mongodb';
import { auditContext, writeAudit } from './audit';
import { backupMetricNames, publishBackupMetric } from './metrics';
import type { VerificationRecord } from './manifest';
import type { ProgressSink } from './progress';
import type { BackupStore } from './storage';
import { runVerify } from './verify';

/**
 * The quarterly restore drill: restore the newest backup into a scratch database exactly as an incident
 * would (checksums, index builds), prove it matches its manifest, and time it against the recovery time
 * objective. Each drill is appended to <stateDir>/<env>/restore-drills.jsonl, audited, and exported as
 * metrics (last success time, measured duration) so a missed or slow drill is visible.
 */
export interface DrillRecord {
  at: string;
  backupId: string;
  location: string;
  ok: boolean;
  /** Restore + verification, the measured RTO. */
  durationMs: number;
  rtoTargetMs: number;
  withinRto: boolean;
  documents: number;
  verification: Pick<VerificationRecord, 'ok' | 'error' | 'collections'>;
}

export const drillLog = (stateDir: string, env: string) => path.join(stateDir, env, 'restore-drills.jsonl');

export async function runDrill(options: { client: MongoClient; store: BackupStore; backupId: string; liveDatabase: string; rtoTargetMs: number; progress?: ProgressSink; env?: NodeJS.ProcessEnv }): Promise<DrillRecord> {
  options.progress?.write(`restore drill: ${options.backupId} into a scratch database (RTO target ${Math.round(options.rtoTargetMs / 1000)} s)`);
  const verification = await runVerify({ client: options.client, store: options.store, backupId: options.backupId, liveDatabase: options.liveDatabase, progress: options.progress });
  const withinRto = verification.durationMs <= options.rtoTargetMs;
  const record: DrillRecord = {
    at: verification.verifiedAt,
    backupId: options.backupId,
    location: options.store.description,
    ok: verification.ok && withinRto,
    durationMs: verification.durationMs,
    rtoTargetMs: options.rtoTargetMs,
    withinRto,
    documents: verification.collections.reduce((n, c) => n + c.restored, 0),
    verification: { ok: verification.ok, ...(verification.error ? { error: verification.error } : {}), collections: verification.collections },
  };
  const { stateDir, env } = auditContext();
  fs.mkdirSync(path.dirname(drillLog(stateDir, env)), { recursive: true });
  fs.appendFileSync(drillLog(stateDir, env), `${JSON.stringify(record)}\n`);
  writeAudit({ action: 'backup.drill', target: { backupId: record.backupId, location: record.location }, outcome: record.ok ? 'success' : 'failure', details: { durationMs: record.durationMs, rtoTargetMs: record.rtoTargetMs, withinRto, documents: record.documents } });
  await publishBackupMetric(backupMetricNames.lastDrillDuration, record.durationMs / 1000, options.env);
  if (record.ok) await publishBackupMetric(backupMetricNames.lastDrillSuccess, Math.floor(Date.parse(record.at) / 1000), options.env);
  return record;
}

export function lastDrill(stateDir: string, env: string): DrillRecord | undefined {
  try {
    const lines = fs.readFileSync(drillLog(stateDir, env), 'utf8').trim().split('\n').filter(Boolean);
    return lines.length ? (JSON.parse(lines[lines.length - 1]!) as DrillRecord) : undefined;
  } catch {
    return undefined;
  }
}

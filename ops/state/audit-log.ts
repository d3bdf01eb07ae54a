import fs from 'node:fs';
import path from 'node:path';

export interface AuditEntry {
  at: string;
  who: string;
  env: string;
  /** deploy, rollback, maintenance.on, maintenance.off, lock.acquire, lock.release, lock.takeover, backup, restore, ... */
  action: string;
  outcome: 'succeeded' | 'failed' | 'refused' | 'started' | 'info';
  release?: string;
  detail?: string;
  durationMs?: number;
  [key: string]: unknown;
}

export const auditFile = (stateDir: string): string => path.join(stateDir, 'audit.jsonl');

/**
 * Appends one line to <stateDir>/audit.jsonl. O_APPEND with a single write per entry: concurrent
 * writers never interleave, and nothing ever rewrites or deletes earlier lines.
 */
export function appendAudit(stateDir: string, entry: Omit<AuditEntry, 'at'> & { at?: string }): AuditEntry {
  const full = { at: new Date().toISOString(), ...entry } as AuditEntry;
  fs.mkdirSync(stateDir, { recursive: true });
  const fd = fs.openSync(auditFile(stateDir), 'a', 0o640);
  try {
    fs.writeSync(fd, `${JSON.stringify(full)}\n`);
  } finally {
    fs.closeSync(fd);
  }
  return full;
}

export function readAudit(stateDir: string): AuditEntry[] {
  let text: string;
  try {
    text = fs.readFileSync(auditFile(stateDir), 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').filter(Boolean).flatMap((line) => {
    try {
      return [JSON.parse(line) as AuditEntry];
    } catch {
      return [];
    }
  });
}

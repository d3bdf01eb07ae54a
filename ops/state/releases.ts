import fs from 'node:fs';
import path from 'node:path';
import type { StepRecord } from '../cli/output';
import { readJson, writeJsonAtomic } from './files';

/** `interrupted`: cancelled by Ctrl-C/SIGTERM or by losing the lock (check what serves: ops status). */
export type ReleaseStatus = 'pending' | 'succeeded' | 'failed' | 'interrupted' | 'rolled-back';

export interface ReleaseRecord {
  /** v1, v2, ... per environment. */
  id: string;
  seq: number;
  env: string;
  /** `config`: the same image with changed settings (ops config set|unset on a stack). */
  kind: 'deploy' | 'rollback' | 'config';
  /** What runs: git sha + build time (local) or the image tag (kubernetes). */
  version: string;
  /** The release whose build/image this one runs (itself for a deploy; the target for a rollback). */
  artifact: string;
  who: string;
  description: string;
  status: ReleaseStatus;
  strategy?: string;
  startedAt: string;
  finishedAt?: string;
  durationMs?: number;
  /** Time from switching traffic until the front door answered with the new version only. */
  cutoverMs?: number;
  error?: string;
  steps?: StepRecord[];
  /** Set when a later rollback replaced this release. */
  rolledBackBy?: string;
  /** Local builds: where the immutable copy lives, and whether prune removed it. */
  build?: { dir: string; gitSha: string; dirty: boolean; ref: string; builtAt: string; pruned?: string };
  /** Core settings baked into this release (ops deploy --set KEY=VALUE). */
  settings?: Record<string, string>;
  /**
   * Kubernetes: the settings changed through `ops config` (overrides of the committed Pulumi.<stack>.yaml,
   * by core setting name), carried forward by every later release and restored by a rollback. Secrets
   * are Pulumi ciphertext only.
   */
  config?: ReleaseConfig;
  /** Kubernetes: the image tag deployed. */
  image?: string;
  /** Deploys: the preflight items and what the operator skipped (ops/preflight). */
  preflight?: { ok: boolean; skipped: Record<string, string>; items: { id: string; title: string; status: string; detail: string; ms: number }[] };
  /** Deploys: the post-deploy verification (ops/verify), or why it was skipped. */
  verify?: { ok: boolean; skipped?: string; checks: { name: string; ok: boolean; detail?: string; ms: number }[] };
}

/** One setting of a release: a plain value, a Pulumi secret's ciphertext, or removed from the committed file. */
export type ConfigEntry = { value: string } | { secure: string } | { unset: true };
export type ReleaseConfig = Record<string, ConfigEntry>;

export const releasesDir = (stateDir: string, env: string): string => path.join(stateDir, env, 'releases');
const recordFile = (stateDir: string, env: string, id: string) => path.join(releasesDir(stateDir, env), id, 'release.json');

export function listReleases(stateDir: string, env: string): ReleaseRecord[] {
  let ids: string[];
  try {
    ids = fs.readdirSync(releasesDir(stateDir, env));
  } catch {
    return [];
  }
  return ids
    .flatMap((id) => {
      const record = readJson<ReleaseRecord>(recordFile(stateDir, env, id));
      return record ? [record] : [];
    })
    .sort((a, b) => a.seq - b.seq);
}

export function getRelease(stateDir: string, env: string, id: string): ReleaseRecord | undefined {
  if (!/^v\d+$/.test(id)) return undefined;
  return readJson<ReleaseRecord>(recordFile(stateDir, env, id));
}

/** Allocates the next id (mkdir is the atomic arbiter) and writes the pending record. */
export function createRelease(stateDir: string, env: string, fields: Omit<ReleaseRecord, 'id' | 'seq' | 'artifact' | 'env' | 'status' | 'startedAt'> & { artifact?: string }): ReleaseRecord {
  const dir = releasesDir(stateDir, env);
  fs.mkdirSync(dir, { recursive: true });
  let seq = listReleases(stateDir, env).reduce((max, r) => Math.max(max, r.seq), 0) + 1;
  for (;; seq++) {
    try {
      fs.mkdirSync(path.join(dir, `v${seq}`));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  const id = `v${seq}`;
  const record: ReleaseRecord = { ...fields, id, seq, env, artifact: fields.artifact ?? id, status: 'pending', startedAt: new Date().toISOString() };
  saveRelease(stateDir, record);
  return record;
}

export function saveRelease(stateDir: string, record: ReleaseRecord): void {
  writeJsonAtomic(recordFile(stateDir, record.env, record.id), record);
}

export type ReleaseOutcome = { status: ReleaseStatus; error?: string; steps?: StepRecord[]; cutoverMs?: number };

/** The record of a finished release (status, duration), to be saved by the state backend. */
export function finished(record: ReleaseRecord, outcome: ReleaseOutcome, now = Date.now()): ReleaseRecord {
  return { ...record, ...outcome, finishedAt: new Date(now).toISOString(), durationMs: now - Date.parse(record.startedAt) };
}


/**
 * Default rollback target: the newest succeeded release older than the current one that runs a
 * different build/image than the current one.
 */
export function previousGood(records: ReleaseRecord[], current: ReleaseRecord | undefined): ReleaseRecord | undefined {
  if (!current) return undefined;
  const sameConfig = (r: ReleaseRecord) => JSON.stringify(r.config ?? {}) === JSON.stringify(current.config ?? {});
  return [...records].reverse().find((r) => r.seq < current.seq && r.status === 'succeeded' && (r.artifact !== current.artifact || !sameConfig(r)));
}

import type { CommandContext } from '../cli/types';
import { writeAudit } from '../backup/audit';
import { BackupError } from '../backup/errors';
import { formatBytes, type ProgressSink } from '../backup/progress';
import { followRestore, listSnapshots, pitWindow, restoreState, startRestore, takeSnapshot, type FollowOptions, type RestoreTarget } from './backups';
import { AtlasApiError, atlasSettingsFromEnv, AtlasSettingsError, createAtlasClient, type AtlasClient } from './client';

/**
 * `ops backup --atlas`, `ops backup list --atlas`, `ops restore --atlas …`: Atlas Cloud Backup (snapshots
 * and continuous point-in-time restore) next to the logical backups. Called from ops/backup/commands.ts
 * when --atlas is given; the options are declared there.
 */

type Values = Record<string, string | boolean | undefined>;

/** Test seam: how long to wait between polls and what "now" is. */
let seams: { sleep?: (ms: number) => Promise<void>; now?: () => Date } = {};
export function injectAtlas(next: typeof seams): void {
  seams = next;
}

const str = (v: string | boolean | undefined) => (typeof v === 'string' ? v : undefined);

function clientFor(ctx: CommandContext, values: Values): AtlasClient {
  try {
    return createAtlasClient(atlasSettingsFromEnv(ctx.env, str(values.cluster)));
  } catch (error) {
    if (error instanceof AtlasSettingsError) throw new BackupError('usage', error.message, 'see ops/backup/README.md (Atlas Cloud Backup)');
    throw error;
  }
}

function followOptions(ctx: CommandContext, progress: ProgressSink): FollowOptions {
  const started = Date.now();
  return {
    sleep: seams.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))),
    pollMs: Number(ctx.env.OPS_ATLAS_POLL_MS ?? 10_000),
    progress: (line) => progress.write(`  ${line} (${Math.round((Date.now() - started) / 1000)} s)`),
  };
}

/** Atlas errors become BackupErrors with the next step (exit 1). */
async function atlas<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof AtlasApiError) {
      const hint = error.status === 401 ? 'check ATLAS_PUBLIC_KEY/ATLAS_PRIVATE_KEY (or the service account) and the API access list'
        : error.status === 403 ? 'the key needs the Project Backup Manager role'
          : error.status === 404 ? 'check ATLAS_GROUP_ID and --cluster'
            : 'see the Atlas UI (Backup tab) for the cluster';
      throw new BackupError('storage', `${what}: ${error.message}`, hint, { cause: error });
    }
    throw error;
  }
}

export async function atlasBackup(ctx: CommandContext, values: Values, progress: ProgressSink): Promise<number> {
  const client = clientFor(ctx, values);
  const request = { description: str(values.reason) ?? 'ops backup --atlas', retentionInDays: Number(str(values['retention-days']) ?? 7) };
  progress.write(`on-demand snapshot of ${client.settings.cluster} (retention ${request.retentionInDays} d) ...`);
  const target = { cluster: client.settings.cluster, groupId: client.settings.groupId };
  const snapshot = await atlas('on-demand snapshot', () => takeSnapshot(client, request, followOptions(ctx, progress)));
  const ok = snapshot.status === 'completed';
  writeAudit({ action: 'backup.atlas', target: { ...target, snapshot: snapshot.id }, outcome: ok ? 'success' : 'failure', details: { status: snapshot.status } });
  ctx.out.result({ ok, snapshot }, ok
    ? `snapshot ${snapshot.id} of ${client.settings.cluster} completed (${formatBytes(snapshot.storageSizeBytes ?? 0)})\nnext: ops backup list --atlas`
    : `snapshot ${snapshot.id} of ${client.settings.cluster} FAILED (status ${snapshot.status})\nnext: look at the cluster's Backup tab in Atlas, then: ops backup --atlas`);
  return ok ? 0 : 1;
}

export async function atlasList(ctx: CommandContext, values: Values): Promise<number> {
  const client = clientFor(ctx, values);
  const snapshots = await atlas('list snapshots', () => listSnapshots(client));
  const window = await atlas('point-in-time window', () => pitWindow(client, snapshots, (seams.now ?? (() => new Date()))()));
  const rows = snapshots.map((s) => `${s.id}  ${(s.createdAt ?? '-').padEnd(24)} ${(s.snapshotType ?? '-').padEnd(9)} ${s.status.padEnd(10)} ${formatBytes(s.storageSizeBytes ?? 0).padStart(10)}  ${s.description ?? ''}`);
  const pit = window.enabled
    ? window.earliest ? `point in time: any moment from ${window.earliest} to ${window.latest} (restore window ${window.restoreWindowDays} d)` : 'point in time: enabled, no completed snapshot yet'
    : 'point in time: not enabled on this cluster (continuous cloud backup off)';
  ctx.out.result({ ok: true, cluster: client.settings.cluster, snapshots, pointInTime: window }, `${client.settings.cluster} snapshots (newest first):\n${rows.join('\n') || '  (none)'}\n${pit}`);
  return 0;
}

export async function atlasRestore(ctx: CommandContext, values: Values, progress: ProgressSink): Promise<number> {
  const client = clientFor(ctx, values);
  const into = str(values.into);
  const pit = str(values['point-in-time']);
  const snapshotId = str(values.snapshot);
  if (!into) throw new BackupError('usage', 'ops restore --atlas needs --into <cluster> (Atlas replaces ALL data on that cluster)', 'restore into a new cluster first, check it, then switch MONGODB_URI');
  if (Boolean(pit) === Boolean(snapshotId)) throw new BackupError('usage', 'give exactly one of --point-in-time <iso> or --snapshot <id>', 'ops backup list --atlas shows snapshots and the point-in-time window');
  if (into === client.settings.cluster && values.yes !== true) {
    throw new BackupError('refused', `--into ${into} is the source cluster itself: its current data would be replaced`, `add --yes if that is what you want (take ops backup --atlas first), or restore into another cluster`);
  }
  let source: RestoreTarget;
  if (pit) {
    const at = new Date(pit);
    if (Number.isNaN(at.getTime())) throw new BackupError('usage', `--point-in-time ${pit} is not an ISO date`, 'e.g. --point-in-time 2026-06-15T11:58:00Z');
    source = { pointInTime: at };
  } else source = { snapshotId: snapshotId! };
  const what = 'snapshotId' in source ? `snapshot ${source.snapshotId}` : `point in time ${source.pointInTime.toISOString()}`;
  progress.write(`restore ${client.settings.cluster} at ${what} into cluster ${into} ...`);
  const job = await atlas('start restore job', () => startRestore(client, source, { cluster: into }));
  progress.write(`  restore job ${job.id} started`);
  const done = await atlas('follow restore job', () => followRestore(client, job, followOptions(ctx, progress)));
  const state = restoreState(done);
  const ok = state === 'succeeded';
  writeAudit({ action: 'restore.atlas', target: { cluster: client.settings.cluster, into, job: done.id }, outcome: ok ? 'success' : 'failure', details: { state, source: what } });
  ctx.out.result({ ok, state, job: done }, ok
    ? `restored ${what} into ${into} (job ${done.id}, finished ${done.finishedAt})\nnext: point a core at ${into} and run ops verify, then switch MONGODB_URI`
    : `restore job ${done.id} ${state.toUpperCase()}: ${what} into ${into}\nnext: see the job in Atlas (Backup → Restores); ${into} may hold partial data, do not switch to it`);
  return ok ? 0 : 1;
}

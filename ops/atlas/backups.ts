import type { AtlasClient } from './client';

/**
 * Atlas Cloud Backup through the Administration API v2 (shapes as documented for
 * /groups/{groupId}/clusters/{clusterName}/backup/...): on-demand snapshots, the snapshot list with the
 * point-in-time window, and restore jobs followed to the end.
 */

export interface Snapshot {
  id: string;
  createdAt?: string;
  description?: string;
  expiresAt?: string;
  frequencyType?: string;
  snapshotType?: 'onDemand' | 'scheduled' | string;
  status: 'queued' | 'inProgress' | 'completed' | 'failed' | string;
  storageSizeBytes?: number;
  mongodVersion?: string;
}

export interface RestoreJob {
  id: string;
  deliveryType: 'automated' | 'download' | 'pointInTime';
  snapshotId?: string;
  pointInTimeUTCSeconds?: number;
  targetClusterName?: string;
  targetGroupId?: string;
  timestamp?: string;
  finishedAt?: string;
  failed?: boolean;
  cancelled?: boolean;
  expired?: boolean;
}

export interface PitWindow {
  enabled: boolean;
  /** Earliest restorable moment: the restore window back from now, not before the oldest completed snapshot. */
  earliest?: string;
  latest?: string;
  restoreWindowDays?: number;
}

export interface FollowOptions {
  /** Waits between polls (injected in tests; the CLI waits OPS_ATLAS_POLL_MS, default 10 s). */
  sleep: (ms: number) => Promise<void>;
  pollMs: number;
  /** Give up after this many polls (the job keeps running in Atlas). */
  maxPolls?: number;
  progress?: (line: string) => void;
}

const clusterPath = (client: AtlasClient) => `/groups/${client.settings.groupId}/clusters/${encodeURIComponent(client.settings.cluster)}`;

export async function takeSnapshot(client: AtlasClient, request: { description: string; retentionInDays: number }, follow: FollowOptions): Promise<Snapshot> {
  const started = await client.request<Snapshot>('POST', `${clusterPath(client)}/backup/snapshots`, request);
  follow.progress?.(`snapshot ${started.id} ${started.status}`);
  return poll(follow, started, (s) => s.status === 'completed' || s.status === 'failed', () => client.request<Snapshot>('GET', `${clusterPath(client)}/backup/snapshots/${started.id}`), (s) => `snapshot ${s.id} ${s.status}`);
}

export async function listSnapshots(client: AtlasClient): Promise<Snapshot[]> {
  const page = await client.request<{ results: Snapshot[]; totalCount: number }>('GET', `${clusterPath(client)}/backup/snapshots?itemsPerPage=100`);
  return [...page.results].sort((a, b) => Date.parse(b.createdAt ?? '') - Date.parse(a.createdAt ?? ''));
}

/** The point-in-time window: the cluster's `pitEnabled` and the backup policy's `restoreWindowDays`. */
export async function pitWindow(client: AtlasClient, snapshots: Snapshot[], now: Date): Promise<PitWindow> {
  const cluster = await client.request<{ pitEnabled?: boolean }>('GET', clusterPath(client));
  if (!cluster.pitEnabled) return { enabled: false };
  const schedule = await client.request<{ restoreWindowDays?: number }>('GET', `${clusterPath(client)}/backup/schedule`);
  const days = schedule.restoreWindowDays ?? 0;
  const oldest = snapshots.filter((s) => s.status === 'completed' && s.createdAt).map((s) => Date.parse(s.createdAt!)).sort((a, b) => a - b)[0];
  const windowStart = now.getTime() - days * 86_400_000;
  const earliest = oldest === undefined ? undefined : new Date(Math.max(windowStart, oldest)).toISOString();
  return { enabled: true, restoreWindowDays: days, earliest, latest: now.toISOString() };
}

export type RestoreTarget = { snapshotId: string } | { pointInTime: Date };

export async function startRestore(client: AtlasClient, source: RestoreTarget, into: { cluster: string; groupId?: string }): Promise<RestoreJob> {
  const target = { targetClusterName: into.cluster, targetGroupId: into.groupId ?? client.settings.groupId };
  const body = 'snapshotId' in source
    ? { deliveryType: 'automated', snapshotId: source.snapshotId, ...target }
    : { deliveryType: 'pointInTime', pointInTimeUTCSeconds: Math.floor(source.pointInTime.getTime() / 1000), ...target };
  return client.request<RestoreJob>('POST', `${clusterPath(client)}/backup/restoreJobs`, body);
}

export const restoreState = (job: RestoreJob): 'running' | 'succeeded' | 'failed' | 'cancelled' | 'expired' =>
  job.failed ? 'failed' : job.cancelled ? 'cancelled' : job.expired ? 'expired' : job.finishedAt ? 'succeeded' : 'running';

export async function followRestore(client: AtlasClient, job: RestoreJob, follow: FollowOptions): Promise<RestoreJob> {
  return poll(follow, job, (j) => restoreState(j) !== 'running', () => client.request<RestoreJob>('GET', `${clusterPath(client)}/backup/restoreJobs/${job.id}`), (j) => `restore job ${j.id}: ${restoreState(j)}${j.finishedAt ? ` at ${j.finishedAt}` : ''}`);
}

async function poll<T>(follow: FollowOptions, first: T, done: (t: T) => boolean, get: () => Promise<T>, describe: (t: T) => string): Promise<T> {
  let current = first;
  let last = describe(first);
  for (let i = 0; !done(current); i++) {
    if (follow.maxPolls !== undefined && i >= follow.maxPolls) throw new Error(`still not finished after ${i} polls (${last}); it keeps running in Atlas`);
    await follow.sleep(follow.pollMs);
    current = await get();
    const line = describe(current);
    if (line !== last) follow.progress?.(line);
    last = line;
  }
  return current;
}

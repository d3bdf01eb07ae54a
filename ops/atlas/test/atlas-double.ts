import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local stand-in for the Atlas Administration API v2 (Atlas cannot run here), following its documented
 * request and response shapes for the Cloud Backup endpoints. It enforces HTTP digest authentication
 * (RFC 7616, MD5, qop=auth, as Atlas answers API keys) and the versioned Accept header, advances
 * snapshots and restore jobs one state per poll, and records every exchange so a test can compare them
 * with the recorded fixture.
 */

export const ACCEPT = 'application/vnd.atlas.2023-01-01+json';
export const REALM = 'MMS Public API';

export interface Exchange {
  method: string;
  path: string;
  status: number;
  request?: unknown;
  response?: unknown;
}

interface SnapshotDoc {
  id: string;
  createdAt: string;
  description?: string;
  expiresAt: string;
  frequencyType: string;
  mongodVersion: string;
  replicaSetName: string;
  snapshotType: string;
  status: string;
  storageSizeBytes: number;
  type: string;
  polls: number;
}

interface RestoreDoc {
  id: string;
  deliveryType: string;
  snapshotId?: string;
  pointInTimeUTCSeconds?: number;
  targetClusterName: string;
  targetGroupId: string;
  timestamp: string;
  cancelled: boolean;
  expired: boolean;
  failed: boolean;
  finishedAt?: string;
  polls: number;
}

export interface AtlasDoubleOptions {
  groupId: string;
  cluster: string;
  publicKey: string;
  privateKey: string;
  now: Date;
  /** A service account (OAuth client credentials) that may also call the API. */
  serviceAccount?: { clientId: string; clientSecret: string };
  /** Restores into this cluster fail (as when the target is too small or paused). */
  failingTarget?: string;
  restoreWindowDays?: number;
}

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

export async function startAtlasDouble(options: AtlasDoubleOptions) {
  let counter = 0;
  const id = () => (0x6650a0000000 + ++counter).toString(16).padStart(24, '0');
  const at = (minutes: number) => new Date(options.now.getTime() + minutes * 60_000).toISOString();
  const nonces = new Set<string>();
  const exchanges: Exchange[] = [];
  const snapshots: SnapshotDoc[] = [
    { id: id(), createdAt: at(-26 * 60), expiresAt: at(6 * 24 * 60), frequencyType: 'daily', mongodVersion: '8.0.4', replicaSetName: `${options.cluster}-shard-0`, snapshotType: 'scheduled', status: 'completed', storageSizeBytes: 734_003_200, type: 'replicaSet', polls: 0 },
    { id: id(), createdAt: at(-2 * 60), expiresAt: at(2 * 24 * 60), frequencyType: 'hourly', mongodVersion: '8.0.4', replicaSetName: `${options.cluster}-shard-0`, snapshotType: 'scheduled', status: 'completed', storageSizeBytes: 741_343_232, type: 'replicaSet', polls: 0 },
  ];
  const restores: RestoreDoc[] = [];
  const base = `/api/atlas/v2/groups/${options.groupId}/clusters/${options.cluster}`;
  const view = <T extends { polls: number }>(doc: T) => {
    const { polls: _polls, ...rest } = doc;
    return { ...rest, links: [{ href: `https://cloud.mongodb.com${base}`, rel: 'self' }] };
  };
  const problem = (status: number, errorCode: string, detail: string) => ({ detail, error: status, errorCode, parameters: [], reason: http.STATUS_CODES[status] });

  const tokens = new Set<string>();
  function authorized(req: http.IncomingMessage): boolean {
    const header = req.headers.authorization;
    if (header?.startsWith('Bearer ')) return tokens.has(header.slice(7));
    if (!header?.startsWith('Digest ')) return false;
    const params = Object.fromEntries([...header.slice(7).matchAll(/(\w+)=(?:"([^"]*)"|([^,\s]*))/g)].map((m) => [m[1], m[2] ?? m[3]]));
    if (params.username !== options.publicKey || params.realm !== REALM || !nonces.has(params.nonce ?? '') || params.uri !== req.url) return false;
    const ha1 = md5(`${options.publicKey}:${REALM}:${options.privateKey}`);
    const ha2 = md5(`${req.method}:${params.uri}`);
    return params.response === md5(`${ha1}:${params.nonce}:${params.nc}:${params.cnonce}:${params.qop}:${ha2}`);
  }

  function route(method: string, path: string, body: Record<string, unknown> | undefined): [number, unknown] {
    const url = new URL(path, 'http://atlas');
    if (!url.pathname.startsWith(`/api/atlas/v2/groups/${options.groupId}/`)) return [404, problem(404, 'GROUP_NOT_FOUND', `No group with ID ${url.pathname.split('/')[5]} exists.`)];
    if (!url.pathname.startsWith(`${base}`) || (url.pathname.length > base.length && url.pathname[base.length] !== '/')) return [404, problem(404, 'CLUSTER_NOT_FOUND', `No cluster named ${url.pathname.split('/')[7]} exists in group ${options.groupId}.`)];
    const rest = url.pathname.slice(base.length);
    if (method === 'GET' && rest === '') return [200, { name: options.cluster, groupId: options.groupId, pitEnabled: true, backupEnabled: true, mongoDBVersion: '8.0.4', stateName: 'IDLE', clusterType: 'REPLICASET' }];
    if (method === 'GET' && rest === '/backup/schedule') return [200, { clusterId: id(), clusterName: options.cluster, referenceHourOfDay: 3, referenceMinuteOfHour: 0, restoreWindowDays: options.restoreWindowDays ?? 2, autoExportEnabled: false, useOrgAndGroupNamesInExportPrefix: false, policies: [] }];
    if (method === 'GET' && rest === '/backup/snapshots') return [200, { links: [], results: snapshots.map(view), totalCount: snapshots.length }];
    if (method === 'POST' && rest === '/backup/snapshots') {
      if (snapshots.some((s) => s.snapshotType === 'onDemand' && ['queued', 'inProgress'].includes(s.status))) return [409, problem(409, 'CANNOT_TAKE_SNAPSHOT_IN_PROGRESS', 'An on-demand snapshot is already in progress.')];
      const retention = Number(body?.retentionInDays);
      if (!Number.isInteger(retention) || retention < 1) return [400, problem(400, 'INVALID_ATTRIBUTE', 'Invalid attribute retentionInDays specified.')];
      const snap: SnapshotDoc = { id: id(), createdAt: at(0), description: String(body?.description ?? ''), expiresAt: at(retention * 24 * 60), frequencyType: 'ondemand', mongodVersion: '8.0.4', replicaSetName: `${options.cluster}-shard-0`, snapshotType: 'onDemand', status: 'queued', storageSizeBytes: 0, type: 'replicaSet', polls: 0 };
      snapshots.push(snap);
      return [200, view(snap)];
    }
    const snapshot = /^\/backup\/snapshots\/([a-f0-9]{24})$/.exec(rest);
    if (method === 'GET' && snapshot) {
      const snap = snapshots.find((s) => s.id === snapshot[1]);
      if (!snap) return [404, problem(404, 'SNAPSHOT_NOT_FOUND', `No snapshot with ID ${snapshot[1]} exists.`)];
      snap.polls += 1;
      if (snap.status === 'queued') snap.status = 'inProgress';
      else if (snap.status === 'inProgress') {
        snap.status = 'completed';
        snap.storageSizeBytes = 742_391_808;
      }
      return [200, view(snap)];
    }
    if (method === 'POST' && rest === '/backup/restoreJobs') {
      const type = body?.deliveryType;
      if (!['automated', 'download', 'pointInTime'].includes(String(type))) return [400, problem(400, 'INVALID_ATTRIBUTE', 'Invalid attribute deliveryType specified.')];
      if (!body?.targetClusterName || !body.targetGroupId) return [400, problem(400, 'MISSING_ATTRIBUTE', 'The required attribute targetClusterName was not specified.')];
      if (type === 'automated' && !snapshots.some((s) => s.id === body.snapshotId && s.status === 'completed')) return [400, problem(400, 'INVALID_SNAPSHOT_ID', `Snapshot ${String(body.snapshotId)} cannot be restored.`)];
      if (type === 'pointInTime') {
        const seconds = Number(body.pointInTimeUTCSeconds);
        const earliest = Math.max(options.now.getTime() - (options.restoreWindowDays ?? 2) * 86_400_000, Date.parse(snapshots[0]!.createdAt));
        if (!Number.isInteger(seconds) || seconds * 1000 < earliest || seconds * 1000 > options.now.getTime()) return [400, problem(400, 'INVALID_POINT_IN_TIME', 'The point in time is outside the restore window.')];
      }
      const job: RestoreDoc = { id: id(), deliveryType: String(type), ...(body.snapshotId ? { snapshotId: String(body.snapshotId) } : {}), ...(body.pointInTimeUTCSeconds ? { pointInTimeUTCSeconds: Number(body.pointInTimeUTCSeconds) } : {}), targetClusterName: String(body.targetClusterName), targetGroupId: String(body.targetGroupId), timestamp: at(0), cancelled: false, expired: false, failed: false, polls: 0 };
      restores.push(job);
      return [200, view(job)];
    }
    const restore = /^\/backup\/restoreJobs\/([a-f0-9]{24})$/.exec(rest);
    if (method === 'GET' && restore) {
      const job = restores.find((r) => r.id === restore[1]);
      if (!job) return [404, problem(404, 'RESTORE_JOB_NOT_FOUND', `No restore job with ID ${restore[1]} exists.`)];
      job.polls += 1;
      if (job.polls === 3) {
        if (job.targetClusterName === options.failingTarget) job.failed = true;
        else job.finishedAt = at(job.polls * 5);
      }
      return [200, view(job)];
    }
    return [404, problem(404, 'RESOURCE_NOT_FOUND', `Cannot find resource ${url.pathname}.`)];
  }

  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const body = raw && req.headers['content-type'] !== 'application/x-www-form-urlencoded' ? (JSON.parse(raw) as Record<string, unknown>) : undefined;
      const send = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
        exchanges.push({ method: req.method!, path: req.url!, status, ...(body ? { request: body } : {}), ...(payload !== undefined ? { response: payload } : {}) });
        res.writeHead(status, { 'content-type': status < 400 ? ACCEPT : 'application/json', ...headers }).end(payload === undefined ? '' : JSON.stringify(payload));
      };
      if (req.method === 'POST' && req.url === '/api/oauth/token') {
        // Client-credentials grant: Basic base64(clientId:clientSecret), form body grant_type=client_credentials.
        const sa = options.serviceAccount;
        const ok = sa && req.headers.authorization === `Basic ${Buffer.from(`${sa.clientId}:${sa.clientSecret}`).toString('base64')}` && raw === 'grant_type=client_credentials';
        if (!ok) {
          exchanges.push({ method: 'POST', path: req.url, status: 401 });
          return void res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'invalid_client' }));
        }
        const token = `sa-token-${tokens.size + 1}`;
        tokens.add(token);
        exchanges.push({ method: 'POST', path: req.url, status: 200, response: { token_type: 'Bearer', expires_in: 3600 } });
        return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: token, expires_in: 3600, token_type: 'Bearer' }));
      }
      if (!authorized(req)) {
        const nonce = randomBytes(16).toString('hex');
        nonces.add(nonce);
        send(401, problem(401, 'UNAUTHORIZED', 'You are not authorized for this resource.'), { 'www-authenticate': `Digest realm="${REALM}", domain="", nonce="${nonce}", algorithm=MD5, qop="auth", stale=false` });
        return;
      }
      if (req.headers.accept !== ACCEPT) return send(406, problem(406, 'INVALID_VERSION_DATE', 'The API version requested in the Accept header is not supported.'));
      const [status, payload] = route(req.method!, req.url!, body);
      send(status, payload);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    exchanges,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

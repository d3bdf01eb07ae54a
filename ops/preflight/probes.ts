import tls from 'node:tls';
import type { Config } from '../../core/src/config';
import { commandLine, run } from '../process';
import { repoRoot } from '../services/paths';
import type { AuditCounts, FiringAlert, PreflightProbes } from './items';

/** The full suite takes minutes on a busy machine: each local check gets half an hour before it is stopped. */
const checkTimeoutMs = 30 * 60_000;

/** The commands behind the local checks: the same ones `npm test` runs. */
const checks = {
  typecheck: ['npx', 'tsc', '-p', 'tsconfig.json', '--noEmit'],
  lint: ['npx', 'eslint', '.'],
  tests: ['npx', 'jest', '--silent'],
} as const;

/** Reads `npm audit --json`: the counts, or why the audit endpoint could not answer (offline, mirror without audit). */
export function parseAudit(stdout: string, stderr: string): { kind: 'ok'; counts: AuditCounts } | { kind: 'unavailable'; reason: string } {
  let report: { metadata?: { vulnerabilities?: Partial<AuditCounts> }; message?: string; error?: { summary?: string; code?: string } } | undefined;
  try {
    report = JSON.parse(stdout) as typeof report;
  } catch {
    report = undefined;
  }
  const v = report?.metadata?.vulnerabilities;
  if (v) return { kind: 'ok', counts: { low: v.low ?? 0, moderate: v.moderate ?? 0, high: v.high ?? 0, critical: v.critical ?? 0 } };
  const reason = report?.message || report?.error?.summary || report?.error?.code || stderr.trim().split('\n').filter((l) => !/nodedir/.test(l)).pop() || 'npm audit printed no report';
  return { kind: 'unavailable', reason };
}

/*
 * Each probe loads its client library when it runs (a deploy that skips an item never loads it): the
 * AWS SDK alone adds seconds to a cold start of `ops`, and a Ctrl-C during that time must still be handled.
 */
const mongoClient = (uri: string) => {
  const { MongoClient } = require('mongodb') as typeof import('mongodb');
  return new MongoClient(uri, { serverSelectionTimeoutMS: 5_000, connectTimeoutMS: 5_000, appName: 'switchboard-ops-preflight' });
};

export const realProbes: PreflightProbes = {
  async command(which) {
    const [cmd, ...args] = checks[which];
    const result = await run(cmd, args, { cwd: repoRoot, nothrow: true, timeoutMs: checkTimeoutMs });
    // A check killed (at its budget, or by hand) may have printed nothing: say so rather than "no output".
    const stopped = result.signal ? `\n${commandLine(cmd, args)} was killed by ${result.signal} (its budget is ${checkTimeoutMs / 60_000} minutes)` : '';
    return { ok: result.ok, output: `${result.stdout}\n${result.stderr}${stopped}` };
  },

  async audit() {
    // Only the npm registry is asked (the one npm is configured with); no other network.
    const result = await run('npm', ['audit', '--omit=dev', '--audit-level=high', '--json'], { cwd: repoRoot, nothrow: true, timeoutMs: 2 * 60_000 });
    return parseAudit(result.stdout, result.stderr);
  },

  async mongoIndexes(uri, dbName) {
    const client = mongoClient(uri);
    try {
      await client.connect();
      const db = client.db(dbName);
      await db.command({ ping: 1 });
      const indexes = new Map<string, string[]>();
      for (const { name } of await db.listCollections({}, { nameOnly: true }).toArray()) {
        indexes.set(name, (await db.collection(name).listIndexes().toArray()).map((ix) => String(ix.name)));
      }
      return indexes;
    } finally {
      await client.close();
    }
  },

  async redisPing(url) {
    const { Redis } = require('ioredis') as typeof import('ioredis');
    const redis = new Redis(url, { lazyConnect: true, connectTimeout: 3_000, maxRetriesPerRequest: 0, retryStrategy: () => null });
    redis.on('error', () => undefined); // the failure reaches us through connect()/ping()
    try {
      await redis.connect();
      const answer = await redis.ping();
      if (answer !== 'PONG') throw new Error(`PING answered ${answer}`);
    } finally {
      redis.disconnect();
    }
  },

  async s3Bucket(config: Config) {
    const { HeadBucketCommand } = require('@aws-sdk/client-s3') as typeof import('@aws-sdk/client-s3');
    const { createS3Client } = require('../../core/src/media/s3') as typeof import('../../core/src/media/s3');
    const s3 = createS3Client({
      bucket: config.S3_BUCKET!,
      region: config.S3_REGION,
      endpoint: config.S3_ENDPOINT,
      forcePathStyle: config.S3_FORCE_PATH_STYLE,
      accessKeyId: config.S3_ACCESS_KEY_ID,
      secretAccessKey: config.S3_SECRET_ACCESS_KEY,
    });
    try {
      await s3.send(new HeadBucketCommand({ Bucket: config.S3_BUCKET }));
    } catch (error) {
      const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
      throw new Error(`HeadBucket ${config.S3_BUCKET}: ${e.name ?? 'error'}${e.$metadata?.httpStatusCode ? ` (HTTP ${e.$metadata.httpStatusCode})` : ''}`, { cause: error });
    } finally {
      s3.destroy();
    }
  },

  async backups(location, env) {
    const { openBackupStore } = require('../backup/open-store') as typeof import('../backup/open-store');
    const { listBackups } = require('../backup/catalog') as typeof import('../backup/catalog');
    const { s3OptionsFromEnv } = require('../backup/storage-s3') as typeof import('../backup/storage-s3');
    // The command's S3 settings (endpoint, region, credentials), as `ops backup list` would use them.
    const store = openBackupStore(location, s3OptionsFromEnv(env));
    await store.check();
    return listBackups(store);
  },

  certificate(host, port) {
    return new Promise((resolve, reject) => {
      // The handshake completes even for an untrusted chain, so the expiry is always read; trust is reported beside it.
      const socket = tls.connect({ host, port, servername: host, timeout: 5_000, rejectUnauthorized: false }, () => {
        const cert = socket.getPeerCertificate();
        const trusted = socket.authorized;
        const trustError = socket.authorizationError ? String(socket.authorizationError) : undefined;
        socket.end();
        resolve({ validTo: new Date(cert.valid_to), subject: cert.subject?.CN ? `CN=${cert.subject.CN}` : 'certificate', trusted, ...(trustError ? { trustError } : {}) });
      });
      socket.once('timeout', () => socket.destroy(new Error(`TLS handshake with ${host}:${port} timed out`)));
      socket.once('error', reject);
    });
  },

  async firingAlerts(prometheusUrl) {
    const url = `${prometheusUrl.replace(/\/+$/, '')}/api/v1/alerts`;
    const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
    if (!res.ok) throw new Error(`GET ${url} answered ${res.status}`);
    const body = (await res.json()) as { status: string; data?: { alerts?: { labels: Record<string, string>; state: string; activeAt?: string }[] } };
    if (body.status !== 'success') throw new Error(`GET ${url}: status ${body.status}`);
    return (body.data?.alerts ?? []).filter((a) => a.state === 'firing').map((a): FiringAlert => ({ name: a.labels.alertname ?? '(unnamed)', severity: a.labels.severity, activeAt: a.activeAt }));
  },
};

/**
 * `npm run bench:backup [-- --messages 1000000] [--s3] [--compress gzip|zstd|none] [--verify] [--keep-source] [--json]`
 *
 * Seeds a fresh MongoDB-compatible server (or MONGODB_URI) with N messages in the core's shapes,
 * then backs it up and restores it, each phase in its own child process so its peak memory
 * (maxRSS) is its own. Reports docs/s, MB/s, peak memory and the restore time (RTO). Not a test.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { forkModule } from '../process';
import { startMongo } from '../services/mongo';
import { startMinio } from '../services/minio';
import type { RunningService } from '../services/service-process';
import { runBackup } from './backup';
import { parseCompression } from './codec';
import type { Manifest } from './manifest';
import { connectMongo } from './mongo';
import { openBackupStore } from './open-store';
import { formatBytes, stderrSink } from './progress';
import { runRestore } from './restore';
import { seedChatDatabase } from './seed';
import type { S3StoreOptions } from './storage-s3';
import { runVerify } from './verify';

interface PhaseRequest {
  phase: 'backup' | 'restore' | 'verify';
  uri: string;
  database: string;
  location: string;
  s3?: S3StoreOptions;
  compression: 'gzip' | 'zstd' | 'none';
  backupId?: string;
}

interface PhaseResult {
  ms: number;
  maxRssBytes: number;
  manifest?: Manifest;
  ok?: boolean;
  restoredDatabase?: string;
}

/** Child side: run one phase, send the result to the parent. */
async function runPhase(req: PhaseRequest): Promise<PhaseResult> {
  const client = await connectMongo(req.uri);
  const store = openBackupStore(req.location, req.s3);
  const started = performance.now();
  try {
    if (req.phase === 'backup') {
      const manifest = await runBackup({ client, database: req.database, store, compression: req.compression, reason: 'bench', progress: stderrSink });
      return { ms: performance.now() - started, maxRssBytes: process.resourceUsage().maxRSS * 1024, manifest };
    }
    if (req.phase === 'restore') {
      const result = await runRestore({ client, store, backupId: req.backupId!, liveDatabase: req.database, progress: stderrSink });
      const ms = performance.now() - started;
      await client.db(result.database).dropDatabase();
      return { ms, maxRssBytes: process.resourceUsage().maxRSS * 1024, ok: result.ok, restoredDatabase: result.database };
    }
    const record = await runVerify({ client, store, backupId: req.backupId!, liveDatabase: req.database, progress: stderrSink });
    return { ms: performance.now() - started, maxRssBytes: process.resourceUsage().maxRSS * 1024, ok: record.ok };
  } finally {
    await client.close();
  }
}

function inChild(req: PhaseRequest): Promise<PhaseResult> {
  return new Promise((resolve, reject) => {
    const child = forkModule(__filename, ['--phase-child'], { execArgv: ['--import', 'tsx'] });
    let result: PhaseResult | undefined;
    child.on('message', (m: { result?: PhaseResult; error?: string }) => {
      if (m.error) reject(new Error(m.error));
      else result = m.result;
    });
    child.on('exit', (code) => (result ? resolve(result) : reject(new Error(`${req.phase} child exited with ${code}`))));
    child.send(req);
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      messages: { type: 'string', default: '1000000' },
      s3: { type: 'boolean', default: false },
      compress: { type: 'string', default: 'gzip' },
      verify: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      'keep-source': { type: 'boolean', default: false },
    },
  });
  const messages = Number(values.messages);
  const compression = parseCompression(values.compress);
  const services: RunningService[] = [];
  process.once('SIGINT', () => {
    console.error('[bench] interrupted: stopping the local services');
    void Promise.allSettled(services.map((s) => s.stop())).then(() => process.exit(130));
  });
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-bench-backup-'));
  // Bench runs are not operations: their audit records go to a throwaway state dir (children inherit it).
  process.env.OPS_STATE_DIR = path.join(workDir, 'state');
  try {
    const mongo = await startMongo({ storage: 'memory' });
    services.push(mongo);
    const database = `bench_${Date.now()}`;
    let location = `dir:${path.join(workDir, 'backups')}`;
    let s3: S3StoreOptions | undefined;
    if (values.s3) {
      const minio = await startMinio();
      services.push(minio);
      s3 = { client: { endpoint: minio.endpoint, region: minio.region, credentials: { accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey } } };
      const admin = new S3Client({ ...s3.client, forcePathStyle: true });
      await admin.send(new CreateBucketCommand({ Bucket: 'bench' }));
      admin.destroy();
      location = 's3://bench/switchboard';
    }

    console.error(`[bench] seeding ${messages.toLocaleString('en-US')} messages into ${database} on ${mongo.name} ...`);
    const client = await connectMongo(mongo.address);
    const seedStart = performance.now();
    let lastLog = 0;
    const seeded = await seedChatDatabase(client.db(database), {
      messages, conversations: 500, largeDocs: 5, batchSize: 1000,
      onProgress: (n) => { if (performance.now() - lastLog > 5000) { lastLog = performance.now(); console.error(`[bench] seeded ${n.toLocaleString('en-US')}`); } },
    });
    const seedMs = performance.now() - seedStart;
    await client.close();
    console.error(`[bench] seeded in ${(seedMs / 1000).toFixed(1)} s (${Math.round(messages / (seedMs / 1000)).toLocaleString('en-US')} docs/s)`);

    const base = { uri: mongo.address, database, location, s3, compression };
    const backup = await inChild({ ...base, phase: 'backup' });
    const manifest = backup.manifest!;
    // The disaster case: the database is gone and the backup is all there is. Dropping the source
    // also keeps the local server (4 GiB heap) from holding two copies of a million messages.
    if (!values['keep-source']) {
      const admin = await connectMongo(mongo.address);
      await admin.db(database).dropDatabase();
      await admin.close();
    }
    const restore = await inChild({ ...base, phase: 'restore', backupId: manifest.id });
    const verify = values.verify ? await inChild({ ...base, phase: 'verify', backupId: manifest.id }) : undefined;

    const docs = manifest.totals.documents;
    const mb = manifest.totals.contentBytes / 1e6;
    const rate = (ms: number) => ({ docsPerSec: Math.round(docs / (ms / 1000)), mbPerSec: Number((mb / (ms / 1000)).toFixed(1)) });
    const report = {
      machine: { cpus: os.cpus().length, node: process.version, memoryGiB: Math.round(os.totalmem() / 2 ** 30), loadAvg1m: Number(os.loadavg()[0]!.toFixed(1)) },
      target: values.s3 ? 'MinIO (S3, loopback)' : 'local directory',
      compression,
      seeded: { ...seeded, seconds: Number((seedMs / 1000).toFixed(1)) },
      data: { documents: docs, contentMB: Number(mb.toFixed(1)), archiveMB: Number((manifest.totals.archiveBytes / 1e6).toFixed(1)) },
      backup: { seconds: Number((backup.ms / 1000).toFixed(1)), ...rate(backup.ms), peakRssMB: Math.round(backup.maxRssBytes / 1e6) },
      restore: { seconds: Number((restore.ms / 1000).toFixed(1)), ...rate(restore.ms), peakRssMB: Math.round(restore.maxRssBytes / 1e6), ok: restore.ok },
      rtoSeconds: Number((restore.ms / 1000).toFixed(1)),
      ...(verify ? { verify: { seconds: Number((verify.ms / 1000).toFixed(1)), peakRssMB: Math.round(verify.maxRssBytes / 1e6), ok: verify.ok } } : {}),
    };
    if (values.json) console.log(JSON.stringify(report, null, 2));
    else {
      console.log([
        `backup benchmark: ${docs.toLocaleString('en-US')} documents, ${formatBytes(manifest.totals.contentBytes)} canonical EJSON → ${formatBytes(manifest.totals.archiveBytes)} ${compression}, target ${report.target}`,
        `  machine         ${report.machine.cpus} CPUs, ${report.machine.memoryGiB} GiB, Node ${report.machine.node}, load average ${report.machine.loadAvg1m} at the end`,
        `  seed            ${report.seeded.seconds} s`,
        `  backup          ${report.backup.seconds} s  ${report.backup.docsPerSec.toLocaleString('en-US')} docs/s  ${report.backup.mbPerSec} MB/s  peak RSS ${report.backup.peakRssMB} MB`,
        `  restore (RTO)   ${report.restore.seconds} s  ${report.restore.docsPerSec.toLocaleString('en-US')} docs/s  ${report.restore.mbPerSec} MB/s  peak RSS ${report.restore.peakRssMB} MB  (checksum pre-check + data + indexes)`,
        ...(report.verify ? [`  verify          ${report.verify.seconds} s  peak RSS ${report.verify.peakRssMB} MB  ok=${report.verify.ok}`] : []),
      ].join('\n'));
    }
    if (!restore.ok || (verify && !verify.ok)) process.exitCode = 1;
  } finally {
    for (const s of services.reverse()) await s.stop().catch(() => undefined);
    fs.rmSync(workDir, { recursive: true, force: true });
  }
}

if (process.argv.includes('--phase-child')) {
  process.once('message', (req: PhaseRequest) => {
    runPhase(req).then(
      (result) => process.send!({ result }, () => process.exit(0)),
      (error: Error) => process.send!({ error: error.stack ?? error.message }, () => process.exit(1)),
    );
  });
} else {
  main().catch((error: Error) => {
    console.error(`bench failed: ${error.stack ?? error.message}`);
    process.exitCode = 1;
  });
}

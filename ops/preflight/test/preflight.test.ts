import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { MongoClient } from 'mongodb';
import { storeIndexes, indexNames } from '../../../core/src/store/mongo-store';
import { createDeclaredIndexes } from '../../../core/src/store/mongo-store';
import { jobIndexes } from '../../../core/src/jobs/job-store';
import { attachmentIndexes } from '../../../core/src/media/attachment-store';
import type { BackupEntry } from '../../backup/catalog';
import { createS3Client, ensureBucket } from '../../../core/src/media/s3';
import { startMinio } from '../../services/minio';
import { freePort } from '../../services/ports';
import { spawnService } from '../../services/service-process';
import { ensureDebianCommand } from '../../services/system-packages';
import { listReleases } from '../../state/releases';
import { runOps } from '../../test/helpers';
import { injectPreflight, preflightContext } from '../commands';
import { stackBackupBucket } from '../../state/stacks';
import { preflightItems, type PreflightContext, type PreflightProbes } from '../items';
import { parseAudit, realProbes } from '../probes';
import { parseSkips, runPreflight } from '../run';

const NOW = new Date('2026-06-15T12:00:00Z');
const item = (id: string) => preflightItems.find((i) => i.id === id)!;
const unexpected = (name: string) => () => {
  throw new Error(`probe ${name} must not be called`);
};
const probes = (over: Partial<PreflightProbes> = {}): PreflightProbes => ({
  command: unexpected('command'),
  audit: unexpected('audit'),
  mongoIndexes: unexpected('mongoIndexes'),
  redisPing: unexpected('redisPing'),
  s3Bucket: unexpected('s3Bucket'),
  backups: unexpected('backups'),
  certificate: unexpected('certificate'),
  firingAlerts: unexpected('firingAlerts'),
  ...over,
});
/**
 * A stack's own token settings: the built-in development key is valid only with APP_ENV explicitly
 * development/local/test, so settings without these are an invalid configuration (the config item's case).
 */
const stackAuth = { APP_ENV: 'staging', JWT_HS256_KEYS: `staging-1:${'s'.repeat(40)}` };
const declaredCount = (declarations: { indexes: unknown[] }[]) => declarations.reduce((n, d) => n + d.indexes.length, 0);
const ctx = (over: Partial<PreflightContext> = {}, probeOver: Partial<PreflightProbes> = {}): PreflightContext => ({
  env: 'staging',
  settings: { MONGODB_URI: 'mongodb://db.invalid:27017', MONGODB_DB: 'sb', ...stackAuth },
  opsEnv: {},
  now: () => NOW,
  probes: probes(probeOver),
  ...over,
});
const backup = (id: string, finishedAt: string, verification: BackupEntry['verification']): BackupEntry => ({
  id, status: 'complete', startedAt: finishedAt, finishedAt, bytes: 1, keys: [], lastModified: finishedAt, verification,
});

describe('preflight items (injected probes and clock)', () => {
  it('local checks run the command, and in CI are recorded as covered by the pipeline for the commit', async () => {
    const calls: string[] = [];
    const command = async (which: string) => {
      calls.push(which);
      return which === 'lint' ? { ok: false, output: 'a.ts\n  3:1  error  no-unused-vars' } : { ok: true, output: '' };
    };
    expect(await item('typecheck').run(ctx({}, { command }))).toEqual({ status: 'passed', detail: 'clean' });
    expect(await item('lint').run(ctx({}, { command }))).toEqual({ status: 'failed', detail: 'a.ts\n  3:1  error  no-unused-vars' });
    const ci = await item('tests').run(ctx({ opsEnv: { CI: 'true', GITHUB_SHA: 'abc123' } }, { command }));
    expect(ci).toEqual({ status: 'skipped', detail: "CI=true: the pipeline's npm test step covers commit abc123" });
    expect(calls).toEqual(['typecheck', 'lint']);
  });

  it('npm audit fails on high/critical and when the endpoint is unavailable (a clear reason)', async () => {
    const counts = { low: 3, moderate: 1, high: 0, critical: 0 };
    expect((await item('audit').run(ctx({}, { audit: async () => ({ kind: 'ok', counts }) }))).status).toBe('passed');
    const high = await item('audit').run(ctx({}, { audit: async () => ({ kind: 'ok', counts: { ...counts, high: 2 } }) }));
    expect(high).toEqual({ status: 'failed', detail: '0 critical, 2 high, 1 moderate, 3 low in production dependencies; see: npm audit --omit=dev' });
    // The recorded answer of this machine's registry mirror, which has no audit endpoint.
    const recorded = fs.readFileSync(path.join(__dirname, 'fixtures', 'npm-audit-endpoint-405.json'), 'utf8');
    const parsed = parseAudit(recorded, 'npm error audit endpoint returned an error');
    expect(parsed).toEqual({ kind: 'unavailable', reason: '405 Method Not Allowed - POST https://registry.npmjs.org/-/npm/v1/security/advisories/bulk' });
    const unavailable = await item('audit').run(ctx({}, { audit: async () => parsed }));
    expect(unavailable.status).toBe('failed');
    expect(unavailable.detail).toContain('the audit endpoint could not be asked: 405 Method Not Allowed');
    expect(parseAudit(JSON.stringify({ auditReportVersion: 2, metadata: { vulnerabilities: { info: 0, low: 0, moderate: 0, high: 1, critical: 1, total: 2 } } }), '')).toEqual({ kind: 'ok', counts: { low: 0, moderate: 0, high: 1, critical: 1 } });
  });

  it('configuration is validated by the core schema, naming each bad key', async () => {
    const bad = await item('config').run(ctx({ settings: { MONGODB_URI: 'postgres://x', PORT: '99999' } }));
    expect(bad.status).toBe('failed');
    expect(bad.detail).toContain('MONGODB_URI="postgres://x": must start with mongodb://');
    expect(bad.detail).toContain('PORT="99999"');
    const devKey = 'JWT_HS256_KEYS: the built-in development key is accepted only with APP_ENV set to development, local, test';
    const prod = await item('config').run(ctx({ settings: { MONGODB_URI: 'mongodb://a', APP_ENV: 'production' } }));
    expect(prod).toEqual({ status: 'failed', detail: expect.stringContaining(`${devKey} (APP_ENV is "production")`) });
    // A stack that forgot APP_ENV must not accept the development key either.
    expect((await item('config').run(ctx({ settings: { MONGODB_URI: 'mongodb://a' } }))).detail).toContain(`${devKey} (APP_ENV is not set)`);
    expect((await item('config').run(ctx({ settings: { MONGODB_URI: 'mongodb://a', APP_ENV: 'test' } }))).status).toBe('passed');
    expect((await item('config').run(ctx())).status).toBe('passed');
  });

  it('indexes: every declared index must exist; a new database is skipped (the core creates them at start)', async () => {
    const all = new Map([...storeIndexes, ...jobIndexes].map((d) => [d.collection, ['_id_', ...d.indexes.map((i) => i.name)]]));
    expect(await item('indexes').run(ctx({}, { mongoIndexes: async () => all }))).toEqual({ status: 'passed', detail: `${declaredCount([...storeIndexes, ...jobIndexes])} declared indexes present` });
    const missing = new Map(all);
    missing.set('messages', ['_id_', indexNames.messageSeq]);
    const failed = await item('indexes').run(ctx({}, { mongoIndexes: async () => missing }));
    expect(failed.status).toBe('failed');
    expect(failed.detail).toContain(`missing messages.${indexNames.messageClientId}, messages.${indexNames.messageTerms}`);
    // Attachments configured: their indexes are required too (the core creates them when S3_BUCKET is set).
    const s3 = await item('indexes').run(ctx({ settings: { MONGODB_URI: 'mongodb://a', S3_BUCKET: 'att-bucket', ...stackAuth } }, { mongoIndexes: async () => all }));
    expect(s3).toMatchObject({ status: 'failed', detail: expect.stringContaining(`missing ${attachmentIndexes.flatMap((d) => d.indexes.map((i) => `${d.collection}.${i.name}`)).join(', ')} `) });
    expect((await item('indexes').run(ctx({}, { mongoIndexes: async () => new Map() }))).status).toBe('skipped');
  });

  it('a stack\'s backup location defaults to its committed switchboard:backup.bucket (BACKUP_LOCATION overrides); the probes get the command\'s environment', async () => {
    const bucket = stackBackupBucket('production')?.bucket;
    expect(bucket).toBeDefined();
    expect(preflightContext({ values: { env: 'production' }, env: {} }).backupLocation).toBe(`s3://${bucket}/production`);
    expect(preflightContext({ values: { env: 'production' }, env: { BACKUP_LOCATION: 'dir:/b' } }).backupLocation).toBe('dir:/b');
    expect(preflightContext({ values: { env: 'local' }, env: { OPS_STATE_DIR: os.tmpdir() } }).backupLocation).toBeUndefined();
    const seen: NodeJS.ProcessEnv[] = [];
    const opsEnv = { BACKUP_S3_ENDPOINT: 'http://s3.example.test' };
    await item('s3').run(ctx({ backupLocation: 's3://bk/staging', opsEnv }, { backups: async (_location, env) => (seen.push(env), []) }));
    expect(seen).toEqual([opsEnv]);
  });

  it('s3: a bucket that cannot be checked because the configuration is invalid says so, not "not configured"', async () => {
    const invalid = await item('s3').run(ctx({ settings: { MONGODB_URI: 'mongodb://a', S3_BUCKET: 'att-bucket' } }));
    expect(invalid).toEqual({ status: 'skipped', detail: 'attachments s3://att-bucket not checked: the configuration is invalid (see "configuration valid")' });
    // Missing on a stack is ✗ (not checked must not read as fine); on the local target it is optional (–).
    expect(await item('s3').run(ctx())).toEqual({ status: 'failed', detail: 'neither S3_BUCKET (attachments) nor an s3:// backup location (BACKUP_LOCATION, or switchboard:backup.bucket of the stack) is configured: required on staging' });
    expect(await item('s3').run(ctx({ env: 'local' }))).toEqual({ status: 'skipped', detail: 'neither S3_BUCKET (attachments) nor an s3:// backup location (BACKUP_LOCATION, or switchboard:backup.bucket of the stack) is configured' });
  });

  it('TLS: at least 14 days left by the injected clock, and a trusted chain', async () => {
    const cert = (days: number, trusted = true) => async () => ({ validTo: new Date(NOW.getTime() + days * 86_400_000), subject: 'CN=chat.example.com', trusted });
    const https = { publicUrl: 'https://chat.example.com' };
    expect((await item('tls').run(ctx(https, { certificate: cert(30) }))).status).toBe('passed');
    const soon = await item('tls').run(ctx(https, { certificate: cert(13.5) }));
    expect(soon.status).toBe('failed');
    expect(soon.detail).toContain('(13 days), less than 14 days');
    expect((await item('tls').run(ctx(https, { certificate: cert(60, false) }))).detail).toContain('NOT trusted');
    expect((await item('tls').run(ctx({ publicUrl: 'http://127.0.0.1:8080' }))).status).toBe('failed');
    expect((await item('tls').run(ctx({ env: 'local', publicUrl: 'http://127.0.0.1:8080' }))).status).toBe('skipped');
  });

  it('backup: the newest verified backup must be younger than the policy (26 h by default)', async () => {
    const at = (hoursAgo: number) => new Date(NOW.getTime() - hoursAgo * 3_600_000).toISOString();
    const located = { backupLocation: 's3://bk/prod' };
    const fresh = await item('backup').run(ctx(located, { backups: async () => [backup('b3', at(1), 'unverified'), backup('b2', at(20), 'verified')] }));
    expect(fresh).toEqual({ status: 'passed', detail: 'b2, 20.0 h old (policy 26 h)' });
    const old = await item('backup').run(ctx(located, { backups: async () => [backup('b3', at(1), 'failed'), backup('b1', at(30), 'verified')] }));
    expect(old.status).toBe('failed');
    expect(old.detail).toContain('b1, 30.0 h old (policy 26 h); run: ops backup --to s3://bk/prod');
    expect((await item('backup').run(ctx({ ...located, opsEnv: { OPS_BACKUP_MAX_AGE_HOURS: '48' } }, { backups: async () => [backup('b1', at(30), 'verified')] }))).status).toBe('passed');
    expect(await item('backup').run(ctx())).toEqual({ status: 'failed', detail: 'no backup location (BACKUP_LOCATION, or switchboard:backup.bucket of the stack): cannot tell when the last verified backup was taken' });
    expect((await item('backup').run(ctx({ env: 'local' }))).status).toBe('skipped');
  });

  it('alerts: any firing alert fails, named with its severity', async () => {
    const opsEnv = { OPS_PROMETHEUS_URL: 'http://prom:9090' };
    const firing = await item('alerts').run(ctx({ opsEnv }, { firingAlerts: async () => [{ name: 'SwitchboardBackupTooOld', severity: 'ticket' }] }));
    expect(firing.detail).toContain('firing: SwitchboardBackupTooOld (ticket)');
    expect((await item('alerts').run(ctx({ opsEnv }, { firingAlerts: async () => [] }))).status).toBe('passed');
    expect((await item('alerts').run(ctx())).status).toBe('failed');
    expect((await item('alerts').run(ctx({ env: 'local' }))).status).toBe('skipped');
  });

  it('the runner times each item, turns a throwing probe into that item failing, and records operator skips', async () => {
    const lines: string[] = [];
    const skip = parseSkips(['lint=flaky rule, ticket 42'], 'typecheck,tests', preflightItems.map((i) => i.id));
    const report = await runPreflight(ctx({ settings: { MONGODB_URI: 'mongodb://a', ...stackAuth } }, {
      audit: async () => ({ kind: 'ok', counts: { low: 0, moderate: 0, high: 0, critical: 0 } }),
      mongoIndexes: async () => {
        throw new Error('connect ECONNREFUSED 127.0.0.1:1');
      },
      backups: async () => [],
    }), { skip, print: (l) => lines.push(l) });
    // staging: settings the items need but that are missing (REDIS_URL, S3, public URL, Prometheus) are ✗ too.
    expect(report.failed).toEqual(['MongoDB reachable', 'Redis reachable', 'S3 bucket reachable', 'TLS certificate valid ≥ 14 days', 'recent verified backup', 'no alert firing']);
    expect(report.items.find((i) => i.id === 'indexes')?.status).toBe('skipped');
    expect(report.items.find((i) => i.id === 'mongodb')).toMatchObject({ status: 'failed', detail: 'connect ECONNREFUSED 127.0.0.1:1' });
    expect(report.items.find((i) => i.id === 'lint')).toMatchObject({ status: 'skipped', detail: 'skipped by operator: flaky rule, ticket 42 (--skip-preflight)' });
    expect(report.items.find((i) => i.id === 'typecheck')?.detail).toBe('skipped by operator: OPS_SKIP_PREFLIGHT');
    expect(lines).toHaveLength(preflightItems.length);
    expect(lines.find((l) => l.includes('MongoDB reachable'))).toMatch(/^✗ MongoDB reachable\s+\d+ ms {2}connect ECONNREFUSED/);
    expect(() => parseSkips(['mongo'], undefined, ['mongodb'])).toThrow('unknown preflight item "mongo"');
  });
});

describe('real probes', () => {
  let client: MongoClient;
  const uri = process.env.TEST_MONGODB_URI!;
  beforeAll(async () => {
    client = new MongoClient(uri);
    await client.connect();
  });
  afterAll(() => client.close());

  it('reads the index names of the real server: declared indexes created by the core pass, a dropped one fails', async () => {
    const db = `pf_${process.pid}_${Date.now()}`;
    const settings = { MONGODB_URI: uri, MONGODB_DB: db, ...stackAuth };
    const c = ctx({ settings }, realProbes);
    expect(await item('indexes').run(c)).toMatchObject({ status: 'skipped' });
    await createDeclaredIndexes(client.db(db), [...storeIndexes, ...jobIndexes]);
    expect(await item('indexes').run(c)).toMatchObject({ status: 'passed', detail: `${declaredCount([...storeIndexes, ...jobIndexes])} declared indexes present` });
    await client.db(db).collection('memberships').dropIndex(indexNames.membershipUser);
    expect(await item('indexes').run(c)).toMatchObject({ status: 'failed' });
    expect((await item('indexes').run(c)).detail).toContain(`memberships.${indexNames.membershipUser}`);
    await client.db(db).dropDatabase();
  });

  it('pings the real Redis; a closed port fails', async () => {
    await expect(realProbes.redisPing(process.env.TEST_REDIS_URL!)).resolves.toBeUndefined();
    await expect(realProbes.redisPing(`redis://127.0.0.1:${await freePort()}`)).rejects.toThrow(/ECONNREFUSED|Connection is closed/);
  });

  it('reads the expiry of a real TLS server and reports a self-signed chain as untrusted', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pf-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, 'k.pem'), '-out', path.join(dir, 'c.pem'), '-days', '20', '-subj', '/CN=localhost'], { stdio: 'ignore' });
    const server = tls.createServer({ key: fs.readFileSync(path.join(dir, 'k.pem')), cert: fs.readFileSync(path.join(dir, 'c.pem')) }, (s) => s.end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const cert = await realProbes.certificate('localhost', (server.address() as AddressInfo).port);
      const days = (cert.validTo.getTime() - Date.now()) / 86_400_000;
      expect(days).toBeGreaterThan(19);
      expect(days).toBeLessThanOrEqual(20);
      expect(cert).toMatchObject({ subject: 'CN=localhost', trusted: false, trustError: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
    } finally {
      server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('checks the attachments bucket on a real S3 (MinIO): present passes, missing fails naming it', async () => {
    const minio = await startMinio();
    try {
      const settings = { MONGODB_URI: 'mongodb://unused', ...stackAuth, S3_ENDPOINT: minio.endpoint, S3_REGION: minio.region, S3_ACCESS_KEY_ID: minio.accessKeyId, S3_SECRET_ACCESS_KEY: minio.secretAccessKey };
      const s3 = createS3Client({ bucket: 'pf-attachments', region: minio.region, endpoint: minio.endpoint, accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey });
      await ensureBucket(s3, 'pf-attachments');
      s3.destroy();
      expect(await item('s3').run(ctx({ settings: { ...settings, S3_BUCKET: 'pf-attachments' } }, realProbes))).toEqual({ status: 'passed', detail: 'attachments s3://pf-attachments' });
      const missing = await runPreflight(ctx({ settings: { ...settings, S3_BUCKET: 'pf-no-such-bucket' } }, realProbes), { items: [item('s3')] });
      expect(missing.items[0]).toMatchObject({ status: 'failed', detail: expect.stringMatching(/^HeadBucket pf-no-such-bucket: \w+ \(HTTP 404\)/) });
      // The backup location's S3 settings come from the command's environment (this process has none of them).
      const backupEnv = { BACKUP_S3_ENDPOINT: minio.endpoint, AWS_REGION: minio.region, AWS_ACCESS_KEY_ID: minio.accessKeyId, AWS_SECRET_ACCESS_KEY: minio.secretAccessKey };
      expect(process.env.BACKUP_S3_ENDPOINT).toBeUndefined();
      const backups = await runPreflight(ctx({ settings, backupLocation: 's3://pf-attachments/staging', opsEnv: backupEnv }, realProbes), { items: [item('s3')] });
      expect(backups.items[0]).toMatchObject({ status: 'passed', detail: 'backups s3://pf-attachments/staging' });
    } finally {
      await minio.stop();
    }
  });

  it('reads firing alerts from a real Prometheus (/api/v1/alerts): firing ones only, not pending', async () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pf-prom-'));
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    fs.writeFileSync(path.join(work, 'rules.yml'), [
      'groups:',
      '  - name: preflight-test',
      '    interval: 1s',
      '    rules:',
      '      - alert: PreflightTestFiring',
      '        expr: vector(1)',
      '        labels: { severity: ticket }',
      '      - alert: PreflightTestPending',
      '        expr: vector(1)',
      '        for: 1h',
      '',
    ].join('\n'));
    fs.writeFileSync(path.join(work, 'prometheus.yml'), `global:\n  evaluation_interval: 1s\nrule_files:\n  - ${path.join(work, 'rules.yml')}\n`);
    const prometheus = await spawnService({
      name: 'preflight prometheus',
      command: ensureDebianCommand('prometheus', 'prometheus'),
      args: [`--config.file=${path.join(work, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(work, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
      logFile: path.join(work, 'prometheus.log'),
      address: url,
      waitReady: async () => {
        for (let i = 0; i < 300; i++) {
          if (await fetch(`${url}/-/ready`).then((r) => r.ok, () => false)) return;
          await new Promise((r) => setTimeout(r, 100));
        }
        throw new Error('not ready');
      },
    });
    try {
      let firing: Awaited<ReturnType<typeof realProbes.firingAlerts>> = [];
      for (let i = 0; i < 300 && firing.length === 0; i++) {
        firing = await realProbes.firingAlerts(`${url}/`);
        if (!firing.length) await new Promise((r) => setTimeout(r, 100));
      }
      expect(firing).toEqual([{ name: 'PreflightTestFiring', severity: 'ticket', activeAt: expect.any(String) }]);
      const outcome = await item('alerts').run(ctx({ opsEnv: { OPS_PROMETHEUS_URL: url } }, realProbes));
      expect(outcome).toEqual({ status: 'failed', detail: 'firing: PreflightTestFiring (ticket); see runbooks/<alert>.md' });
    } finally {
      await prometheus.stop();
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});

describe('ops deploy runs preflight first', () => {
  jest.setTimeout(60_000);
  afterEach(() => injectPreflight({}));

  it('refuses on the local target when MongoDB is stopped, naming "MongoDB reachable", and records the skips', async () => {
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pf-deploy-'));
    // A port nothing listens on: what a stopped MongoDB looks like to a client.
    const stopped = `mongodb://127.0.0.1:${await freePort()}/?serverSelectionTimeoutMS=1000`;
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, OPS_STATE_DIR: stateDir, OPS_USER: 'pat', MONGODB_URI: stopped, OPS_LOCAL_PORT: String(await freePort()) };
    try {
      const run = await runOps(['deploy', '-m', 'refused', '--skip-preflight', 'typecheck', '--skip-preflight', 'lint', '--skip-preflight', 'tests', '--skip-preflight', 'audit=mirror has no audit endpoint'], env);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain('refused by preflight: MongoDB reachable');
      expect(run.stderr).toMatch(/✗ MongoDB reachable\s+[\d.]+ (ms|s) {2}/);
      expect(run.stderr).toContain('--skip-preflight mongodb');
      const [record] = listReleases(stateDir, 'local');
      expect(record).toMatchObject({ status: 'failed', kind: 'deploy' });
      expect(record!.preflight?.skipped).toEqual({ typecheck: '--skip-preflight', lint: '--skip-preflight', tests: '--skip-preflight', audit: 'mirror has no audit endpoint (--skip-preflight)' });
      expect(record!.preflight?.items.find((i) => i.id === 'mongodb')?.status).toBe('failed');
      expect(record!.build).toBeUndefined(); // nothing was built
      const dry = await runOps(['deploy', '--dry-run', '--skip-preflight', 'lint', '--skip-verify', 'not now'], env);
      expect(dry.stdout).toContain('2. preflight: typecheck, tests, audit, config, mongodb, indexes, redis, s3, tls, backup, alerts; refuse the deploy if one fails (skipped: lint)');
      expect(dry.stdout).toContain('skip ops verify: not now (--skip-verify)');
      const alone = await runOps(['preflight', '--skip', 'typecheck', '--skip', 'lint', '--skip', 'tests', '--skip', 'audit', '--json'], env);
      expect(alone.code).toBe(1);
      expect((JSON.parse(alone.stdout) as { failed: string[] }).failed).toEqual(['MongoDB reachable']);
    } finally {
      fs.rmSync(stateDir, { recursive: true, force: true });
    }
  });
});

// spawn, not the process layer: `ops status --watch` runs until Ctrl-C, so that one step runs as the real executable.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { SignJWT } from 'jose';
import { MongoClient } from 'mongodb';
import { signLocalToken, tokenSettingsFrom } from '../../core/src/auth/tokens';
import { configSpec, loadConfig } from '../../core/src/config';
import { collectionNames } from '../../core/src/store/mongo-store';
import { sessionsRepository } from '../../core/src/store/sessions-repository';
import { quotedOpsSteps, shellWords, type QuotedStep } from '../../runbooks/catalog';
import { injectRotationClock } from '../keys/commands';
import { startMinio, type RunningMinio } from '../services/minio';
import { freePort } from '../services/ports';
import { startRedis } from '../services/redis';
import type { RunningService } from '../services/service-process';
import { readJson } from '../state/files';
import { isOurs } from '../targets/local/processes';
import type { LocalState } from '../targets/local/local-target';
import { runOps, sleep } from './helpers';

/**
 * Issue 26: each runbook procedure — maintenance window, restore from backup, rollback, HS256 key
 * rotation — executed step by step AS WRITTEN against the local target: real core instances from
 * release builds behind nginx, the test MongoDB (own database), a Redis and a MinIO of this file's own
 * (the maintenance flag is a global Redis key; backups go to an S3 bucket as in production).
 *
 * The steps are the `ops …` commands quoted in the page, in document order (runbooks/catalog.ts). Each
 * `<placeholder>` takes its value from the table below (an unknown placeholder fails the test); steps that
 * cannot apply to the local target are skipped by rule (Kubernetes stack, Atlas) or by an explicit entry
 * with its reason, and the test asserts exactly which were skipped, so a new step is either run or
 * listed. Every other step must exit 0. At the end of each procedure its outcome is checked.
 */
jest.setTimeout(600_000);

const root = path.join(__dirname, '..', '..');
let redis: RunningService;
let minio: RunningMinio;
let mongo: MongoClient;
let stateDir: string;
let env: NodeJS.ProcessEnv;
let frontDoor: string;
let bucket: string;

/** What earlier steps printed, for the placeholders that name it. */
const printed = { backup: '', release: '', badRelease: '' };
const placeholders: Record<string, () => string> = {
  '<what>': () => 'reindex messages',
  '<time>': () => '02:00 UTC',
  '<backup-bucket>': () => bucket,
  '<incident link>': () => 'https://incidents.example.com/INC-26',
  '<backup>': () => printed.backup, // the id the preceding `ops backup` printed
  '<live-db>': () => env.MONGODB_DB!, // "the core's MONGODB_DB"
  '<bad release>': () => printed.badRelease, // the release that was rolled back
  '<reason>': () => 'errors after the deploy',
  '<your name>': () => 'oncall',
};
const fill = (text: string) => text.replace(/<[^<>]+>/g, (p) => {
  const value = placeholders[p]?.();
  if (!value) throw new Error(`no value for the placeholder ${p} in: ${text}`);
  return value;
});

/** Steps that cannot run against the local target, by rule. */
function skippedByRule(step: QuotedStep): string | undefined {
  if (/--atlas\b/.test(step.text)) return 'Atlas Cloud Backup (needs an Atlas project)';
  if (/^ops tunnel\b/.test(step.text)) return 'Kubernetes stack only (tunnel to its data stores)';
  if (/--env (production|staging)\b/.test(step.text) || /Kubernetes stack/.test(step.heading)) return 'Kubernetes stack only';
  return undefined;
}

interface Procedure {
  page: string;
  /** The part of the page that is the procedure (default: all of it). */
  within?: (step: QuotedStep) => boolean;
  /** Steps skipped for a reason that is not a rule above: exact command text → why. */
  skip?: Record<string, string>;
  /** Runs before a step (e.g. the time a step says to wait for). */
  before?: (argv: string[]) => void;
}

interface StepResult { line: number; step: string; code?: number; skipped?: string }

function stepsOf(procedure: Procedure): QuotedStep[] {
  const steps = quotedOpsSteps(procedure.page, fs.readFileSync(path.join(root, 'runbooks', procedure.page), 'utf8'));
  return procedure.within ? steps.filter(procedure.within) : steps;
}

/** Runs the procedure's steps in document order; returns what ran (with exit codes) and what was skipped (with why). */
async function walk(procedure: Procedure, after?: (argv: string[], stdout: string) => Promise<void> | void): Promise<StepResult[]> {
  const results: StepResult[] = [];
  for (const step of stepsOf(procedure)) {
    const skipped = skippedByRule(step) ?? procedure.skip?.[step.text];
    if (skipped) {
      results.push({ line: step.line, step: step.text, skipped });
      continue;
    }
    const text = fill(step.text);
    const argv = shellWords(text).slice(1);
    procedure.before?.(argv);
    const run = argv.includes('--watch') ? await watchUntilHealthy(argv) : await runOps(argv, env);
    // On failure, ops' own output says why.
    if (run.code !== 0) process.stderr.write(`step failed: ${text} (exit ${run.code})\n${run.stdout}\n${run.stderr}\n`);
    results.push({ line: step.line, step: text, code: run.code });
    await after?.(argv, run.stdout);
  }
  return results;
}

/** `ops status --watch` as the on-call engineer runs it: the real executable, watched until a frame says HEALTHY, then Ctrl-C. */
async function watchUntilHealthy(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawn(path.join(root, 'ops', 'bin', 'ops'), argv, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  try {
    for (let i = 0; i < 600 && !/: HEALTHY/.test(stdout) && child.exitCode === null; i++) await sleep(100);
    const healthy = /: HEALTHY/.test(stdout);
    const stillWatching = child.exitCode === null;
    child.kill('SIGINT');
    const end = await exited;
    // Exit 0 for the walk: it kept watching, showed HEALTHY, and Ctrl-C ended it.
    return { code: healthy && stillWatching && end.signal === 'SIGINT' ? 0 : end.code ?? 1, stdout, stderr };
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

const ran = (results: StepResult[]) => results.filter((r) => !r.skipped);
const skips = (results: StepResult[]) => results.filter((r) => r.skipped).map((r) => ({ step: r.step, skipped: r.skipped }));
const expectAllExitZero = (results: StepResult[]) => expect(ran(results).map((r) => ({ step: r.step, code: r.code }))).toEqual(ran(results).map((r) => ({ step: r.step, code: 0 })));
const report = (name: string, results: StepResult[]) => process.stderr.write(`\n${name}:\n${results.map((r) => `  ${String(r.line).padStart(3)}  ${r.skipped ? `SKIPPED (${r.skipped})` : `exit ${r.code}`}  ${r.step}`).join('\n')}\n`);

// The core, as a client sees it.
const localTargetEnv = (settings: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ APP_ENV: 'development', MONGODB_URI: 'mongodb://unused', ...settings });
const tokenFor = (user: string) => signLocalToken(tokenSettingsFrom(loadConfig(localTargetEnv())), user, 3600);
const api = async (token: string, route: string, body?: unknown) => fetch(`${frontDoor}/api${route}`, {
  method: body === undefined ? 'GET' : 'POST',
  headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', connection: 'close' },
  ...(body === undefined ? {} : { body: JSON.stringify(body) }),
});
const health = async () => (await (await fetch(`${frontDoor}/health`, { headers: { connection: 'close' } })).json()) as { version: string; maintenance: { on: boolean } };
const targetState = () => readJson<LocalState>(path.join(stateDir, 'local', 'target.json'))!;
const messageTexts = async () => (await mongo.db(env.MONGODB_DB).collection<{ text: string }>('messages').find({}).toArray()).map((m) => m.text);

let conversationId: string;
let alice: string;

beforeAll(async () => {
  const mongoUri = process.env.TEST_MONGODB_URI;
  if (!mongoUri) throw new Error('run through jest: the global setup starts MongoDB (TEST_MONGODB_URI)');
  stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'runbook-procedures-'));
  redis = await startRedis({ logDir: path.join(stateDir, 'service-logs') });
  minio = await startMinio({ logDir: path.join(stateDir, 'service-logs') });
  bucket = `runbooks-${process.pid}`;
  const s3 = new S3Client({ endpoint: minio.endpoint, region: minio.region, credentials: { accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey }, forcePathStyle: true });
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  s3.destroy();
  mongo = new MongoClient(mongoUri);
  await mongo.connect();
  const port = await freePort();
  frontDoor = `http://127.0.0.1:${port}`;
  // The operator's shell as runbooks/README.md sets it up ("Before you start"), for the local target.
  env = {
    PATH: process.env.PATH, HOME: process.env.HOME,
    OPS_ENV: 'local', OPS_STATE_DIR: stateDir, OPS_LOCAL_PORT: String(port), OPS_USER: 'oncall', OPS_READY_TIMEOUT: '30s',
    MONGODB_URI: mongoUri, MONGODB_DB: `runbooks_${process.pid}`, REDIS_URL: redis.address,
    BACKUP_LOCATION: `s3://${bucket}/switchboard`, BACKUP_S3_ENDPOINT: minio.endpoint, AWS_REGION: minio.region,
    AWS_ACCESS_KEY_ID: minio.accessKeyId, AWS_SECRET_ACCESS_KEY: minio.secretAccessKey,
    SHUTDOWN_DRAIN_MS: '2000', LOG_LEVEL: 'warn', RATE_LIMIT_API_PER_MIN: '100000', RATE_LIMIT_MESSAGES_PER_MIN: '100000',
    // The expensive preflight items and ops verify have their own tests; the rest runs (s3 included: its probe
    // reads the S3 settings of this command's environment, MinIO here). backup: the first deploy has no verified backup yet.
    OPS_SKIP_PREFLIGHT: 'typecheck,lint,tests,audit,backup', OPS_SKIP_VERIFY: 'covered by ops/verify tests',
  };
  // Setup, not a procedure: the release that serves, and data in it.
  const deployed = await runOps(['deploy', '-m', 'release before the procedures'], env);
  if (deployed.code !== 0) throw new Error(`setup deploy failed:\n${deployed.stderr}`);
  printed.release = 'v1';
  alice = await tokenFor('alice');
  const created = await api(alice, '/conversations', { type: 'direct', memberIds: ['bob'] });
  conversationId = ((await created.json()) as { id: string }).id;
  expect((await api(alice, `/conversations/${conversationId}/messages`, { clientMsgId: 'before-backup', text: 'sent before the backup' })).status).toBe(201);
}, 600_000);

afterAll(async () => {
  injectRotationClock(() => new Date());
  if (stateDir) {
    await runOps(['stop'], env).catch(() => undefined);
    try {
      const state = targetState();
      for (const p of [...state.running, ...(state.nginx ? [state.nginx] : [])]) if (isOurs(p)) process.kill(p.pid, 'SIGKILL');
    } catch {
      // no state file: nothing was started
    }
  }
  if (mongo) {
    for (const { name } of (await mongo.db().admin().listDatabases()).databases) if (name.startsWith(`runbooks_${process.pid}`)) await mongo.db(name).dropDatabase();
    await mongo.close();
  }
  await minio?.stop();
  await redis?.stop();
  if (stateDir) fs.rmSync(stateDir, { recursive: true, force: true });
});

test('maintenance-window.md: every step as written; maintenance on serves the 503 answer, off stops it', async () => {
  const answers: Record<string, number> = {};
  const results = await walk({ page: 'maintenance-window.md' }, async (argv, stdout) => {
    if (argv[0] === 'backup' && argv.length >= 1) printed.backup = /backup (\S+) written to/.exec(stdout)?.[1] ?? printed.backup;
    if (argv[0] === 'maintenance' && (argv[1] === 'on' || argv[1] === 'off')) {
      const res = await api(alice, '/conversations');
      answers[argv[1]] = res.status;
      if (argv[1] === 'on') {
        expect(res.headers.get('retry-after')).toBe('900');
        expect(await res.text()).toContain('Switchboard is down for planned maintenance until 02:00 UTC.');
        expect((await health()).maintenance.on).toBe(true);
      }
    }
  });
  report('maintenance-window.md', results);
  expectAllExitZero(results);
  expect(skips(results)).toEqual([]);
  expect(ran(results).map((r) => r.step.split(' ').slice(0, 3).join(' '))).toEqual([
    'ops status', 'ops lock status', 'ops lock acquire', 'ops maintenance on', 'ops maintenance status', 'ops backup', 'ops maintenance off', 'ops status', 'ops lock release', 'ops audit',
  ]);
  // Outcome: the maintenance answer was served while on and is gone after off; the backup exists; the lock is free; the audit has both switches.
  expect(answers).toEqual({ on: 503, off: 200 });
  expect((await health()).maintenance.on).toBe(false);
  expect(printed.backup).not.toBe('');
  expect((await runOps(['backup', 'list'], env)).stdout).toContain(printed.backup);
  expect((await runOps(['lock', 'status'], env)).stdout).toMatch(/not locked|unlocked|free/i);
  const audit = (await runOps(['audit'], env)).stdout;
  expect(audit).toMatch(/maintenance\.on/);
  expect(audit).toMatch(/maintenance\.off/);
});

test('restore-from-backup.md: every local step as written; data after the backup is gone, data before it is back, a safety backup exists, sessions ended after the backup stay ended', async () => {
  expect(printed.backup).not.toBe(''); // the backup the maintenance window took
  // The damage: written after the backup, then lost by the restore.
  expect((await api(alice, `/conversations/${conversationId}/messages`, { clientMsgId: 'after-backup', text: 'sent after the backup' })).status).toBe(201);
  expect(await messageTexts()).toEqual(expect.arrayContaining(['sent before the backup', 'sent after the backup']));
  // After the backup, mallory's laptop is stolen: her sessions are ended (the durable record the
  // admin call writes, through the core's own repository). The restore must not give them back (issue 21).
  const mallory = await tokenFor('mallory');
  expect((await api(mallory, '/conversations')).status).toBe(200);
  const revocations = sessionsRepository({ sessionRevocations: mongo.db(env.MONGODB_DB).collection(collectionNames.sessionRevocations), instances: mongo.db(env.MONGODB_DB).collection(collectionNames.instances) });
  const malloryEndedAt = await revocations.record('mallory', new Date(), 'runbook-test');
  let kept = '';
  let safety = '';
  let scratch = '';
  let fleet = '';
  const results = await walk({
    page: 'restore-from-backup.md',
    skip: { 'ops restore': 'names the command in prose (what step 5 does), no backup id: not a step' },
  }, (argv, stdout) => {
    if (argv[0] === 'restore') {
      safety = /safety backup of the previous data: (\S+)/.exec(stdout)?.[1] ?? safety;
      if (!argv.includes('--into')) scratch = /into scratch database (\S+)/.exec(stdout)?.[1] ?? '';
      else {
        kept = /kept \d+ session revocations newer than the backup/.exec(stdout)?.[0] ?? '';
        fleet = /kept the target's (\d+) running instances/.exec(stdout)?.[1] ?? '';
      }
    }
  });
  report('restore-from-backup.md', results);
  expectAllExitZero(results);
  expect(skips(results)).toEqual([
    { step: 'ops backup list --atlas', skipped: 'Atlas Cloud Backup (needs an Atlas project)' },
    { step: 'ops restore --atlas --point-in-time 2026-06-15T11:58:00Z --into <new-cluster>', skipped: 'Atlas Cloud Backup (needs an Atlas project)' },
    { step: 'ops restore --atlas --snapshot <snapshot id> --into <new-cluster>', skipped: 'Atlas Cloud Backup (needs an Atlas project)' },
    { step: 'ops restore', skipped: 'names the command in prose (what step 5 does), no backup id: not a step' },
  ]);
  expect(ran(results).map((r) => r.step)).toEqual(expect.arrayContaining([`ops restore ${printed.backup}`, `ops restore ${printed.backup} --into ${env.MONGODB_DB} --drop --yes`]));
  // Outcome.
  const texts = await messageTexts();
  expect(texts).toContain('sent before the backup');
  expect(texts).not.toContain('sent after the backup');
  expect(safety).not.toBe('');
  expect((await runOps(['backup', 'list'], env)).stdout).toContain(safety);
  // "its id is printed and recorded in `ops audit`"
  expect((await runOps(['audit'], env)).stdout).toContain(safety);
  expect(scratch).not.toBe('');
  // The restored data is what the core serves, out of maintenance.
  const history = await api(alice, `/conversations/${conversationId}/messages`);
  expect(history.status).toBe(200);
  expect(JSON.stringify(await history.json())).toContain('sent before the backup');
  // Ended sessions stay ended: the live core still refuses mallory's token (its instances also
  // remember the revocation in memory), the durable record every instance started from now on reads
  // still holds it, and step 5 said so.
  expect((await api(mallory, '/conversations')).status).toBe(401);
  expect(await revocations.endedAt('mallory')).toEqual(malloryEndedAt);
  expect(kept).toBe('kept 1 session revocations newer than the backup');
  // The running instances' own records stayed (the page's "The running instances' own records stay"):
  // the live core's instances kept registering throughout, and the restore did not race them.
  expect(Number(fleet)).toBeGreaterThan(0);
  if (scratch) await mongo.db(scratch).dropDatabase();
});

test('rollback.md: every local step as written; the previous release serves again', async () => {
  // Setup: the bad deploy.
  const bad = await runOps(['deploy', '-m', 'the bad deploy'], env);
  expect(bad.code).toBe(0);
  type Release = { id: string; artifact: string; kind: string; status: string };
  // `ops releases`: newest first, `current` = the release serving.
  const releases = async () => JSON.parse((await runOps(['releases', '--json'], env)).stdout) as { current: string; releases: Release[] };
  printed.badRelease = (await releases()).current;
  const good = (await releases()).releases.find((r) => r.id === 'v1')!.artifact;
  expect((await health()).version.startsWith(`${printed.badRelease}-`)).toBe(true);

  const results = await walk({
    page: 'rollback.md',
    skip: {
      'ops rollback --to <release>': 'alternative to `ops rollback` (a named target instead of the default); the default form ran',
      'ops rollback --to v41': 'example of the alternative form',
      'ops rollback --lock-wait 10m': 'only while another deploy holds the lock',
    },
  });
  report('rollback.md', results);
  expectAllExitZero(results);
  expect(skips(results)).toEqual([
    { step: 'ops rollback --to <release>', skipped: 'alternative to `ops rollback` (a named target instead of the default); the default form ran' },
    { step: 'ops rollback --to v41', skipped: 'example of the alternative form' },
    { step: 'ops rollback --lock-wait 10m', skipped: 'only while another deploy holds the lock' },
  ]);
  expect(ran(results).map((r) => r.step)).toEqual(expect.arrayContaining(['ops releases', 'ops rollback', 'ops status --watch']));
  // Outcome: `ops releases` says the newest release is a succeeded rollback to v1, and v1's build serves.
  const after = await releases();
  expect(after.releases[0]).toMatchObject({ id: after.current, kind: 'rollback', status: 'succeeded', artifact: good });
  expect((await health()).version.startsWith(`${good}-`)).toBe(true);
  expect((await runOps(['lock', 'status'], env)).stdout).not.toContain('rolled back');
});

test('maintenance-schedule.md, "Rotate the HS256 signing keys": the local steps as written; new-key tokens work, the retired key\'s are refused', async () => {
  const keys = () => (targetState().settings.JWT_HS256_KEYS ?? configSpec.JWT_HS256_KEYS.default).split(',');
  const tokenWith = (entry: string, user: string) => {
    const at = entry.indexOf(':');
    return new SignJWT({}).setProtectedHeader({ alg: 'HS256', kid: entry.slice(0, at) }).setSubject(user).setIssuer('switchboard-local').setAudience('switchboard').setExpirationTime('1h').sign(new TextEncoder().encode(entry.slice(at + 1)));
  };
  const statusWith = async (token: string) => (await api(token, '/conversations')).status;
  const [original] = keys();
  const oldToken = await tokenWith(original!, 'olga');
  expect(await statusWith(oldToken)).toBe(200);

  const results = await walk({
    page: 'maintenance-schedule.md',
    within: (s) => s.source.includes('Rotate the HS256 signing keys') || s.heading === 'Key rotation on a Kubernetes stack',
    // "after the longest token lifetime `ops jwt retire`": the clock moves past the --max-token-ttl the add step set.
    before: (argv) => { if (argv[0] === 'jwt' && argv[1] === 'retire') injectRotationClock(() => new Date(Date.now() + 12 * 3_600_000 + 60_000)); },
  });
  injectRotationClock(() => new Date());
  report('key rotation (maintenance-schedule.md)', results);
  expectAllExitZero(results);
  expect(ran(results).map((r) => r.step)).toEqual(['ops jwt add --max-token-ttl 12h', 'ops jwt switch', 'ops jwt retire', 'ops jwt status']);
  expect(skips(results)).toEqual([
    { step: 'ops config set', skipped: 'Kubernetes stack only' },
    { step: 'ops rollback --env production --yes', skipped: 'Kubernetes stack only' },
    ...[1, 2, 3].map(() => ({ step: 'ops config set JWT_HS256_KEYS --secret --env production --yes', skipped: 'Kubernetes stack only' })),
  ]);
  // Outcome: one new key, tokens signed with it work, the retired key's are refused.
  const now = keys();
  expect(now).toHaveLength(1);
  expect(now[0]).not.toBe(original);
  expect(await statusWith(await tokenWith(now[0]!, 'piet'))).toBe(200);
  expect(await statusWith(oldToken)).toBe(401);
  expect(await statusWith(await tokenWith(original!, 'piet'))).toBe(401);
});

import { randomBytes } from 'node:crypto';
import { ObjectId } from 'mongodb';
import { Registry } from 'prom-client';
import { cronExpressionSchema, parseCron } from '../src/jobs/cron';
import type { JobDefinition } from '../src/jobs/job';
import { createJobMetrics } from '../src/jobs/job-metrics';
import { createJobRunner } from '../src/jobs/job-runner';
import { ensureJobIndexes, jobStore } from '../src/jobs/job-store';
import { createJobs, defaultJobsSettings } from '../src/jobs/jobs-module';
import { archiveCollection, retentionJob } from '../src/jobs/retention-job';
import type { ConversationDoc, MessageDoc } from '../src/store/documents';
import { openStore, type Store } from '../src/store/mongo-store';
import { testNow } from '../../ops/services/test-clock';

const day = 86_400_000;
let store: Store;

beforeAll(async () => {
  const uri = process.env.TEST_MONGODB_URI;
  if (!uri) throw new Error('TEST_MONGODB_URI is not set: run through jest (global setup starts MongoDB)');
  store = await openStore(uri, `t_${randomBytes(6).toString('hex')}`, { poolSize: 5 });
  await ensureJobIndexes(store.db);
});
afterAll(async () => {
  await store.db.dropDatabase();
  await store.close();
});

const metricValue = async (registry: Registry, name: string, labels: Record<string, string>) => {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  const match = metric?.values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val) && !('metricName' in v && String(v.metricName).endsWith('_bucket')));
  return match?.value;
};

describe('cron parser (UTC)', () => {
  const at = (iso: string) => new Date(iso);
  it('computes the next slot of the seed defaults', () => {
    expect(parseCron('0 2 * * *').next(at('2026-11-22T21:39:10Z')).toISOString()).toBe('2026-11-23T02:00:00.000Z');
    expect(parseCron('0 3 * * *').next(at('2026-11-23T02:59:59Z')).toISOString()).toBe('2026-11-23T03:00:00.000Z');
    // Strictly after: a run at the slot itself schedules the next day.
    expect(parseCron('0 2 * * *').next(at('2026-11-23T02:00:00Z')).toISOString()).toBe('2026-11-24T02:00:00.000Z');
  });
  it('supports steps, ranges, lists and month/year rollover', () => {
    expect(parseCron('*/15 * * * *').next(at('2026-01-01T10:16:00Z')).toISOString()).toBe('2026-01-01T10:30:00.000Z');
    expect(parseCron('5,35 9-17 * * *').next(at('2026-01-01T17:40:00Z')).toISOString()).toBe('2026-01-02T09:05:00.000Z');
    expect(parseCron('0 0 1 1 *').next(at('2026-06-01T00:00:00Z')).toISOString()).toBe('2027-01-01T00:00:00.000Z');
    expect(parseCron('0 0 29 2 *').next(at('2026-03-01T00:00:00Z')).toISOString()).toBe('2028-02-29T00:00:00.000Z');
  });
  it('treats day-of-month and day-of-week as either-or when both are restricted; 7 is Sunday', () => {
    // 2026-11-23 is a Monday.
    expect(parseCron('0 0 1 * 1').next(at('2026-11-22T12:00:00Z')).toISOString()).toBe('2026-11-23T00:00:00.000Z');
    expect(parseCron('0 0 * * 7').next(at('2026-11-23T12:00:00Z')).toISOString()).toBe('2026-11-29T00:00:00.000Z');
  });
  it('refuses malformed or impossible expressions with a clear message', () => {
    expect(() => parseCron('0 2 * *')).toThrow(/5 fields/);
    expect(() => parseCron('60 * * * *')).toThrow(/minute field "60"/);
    expect(() => parseCron('0 2 * * mon')).toThrow(/day-of-week/);
    expect(() => parseCron('*/0 * * * *')).toThrow(/step/);
    expect(() => parseCron('0 0 31 2 *').next(new Date())).toThrow(/never matches/);
    expect(cronExpressionSchema.safeParse(' 0 3 * * * ').data).toBe('0 3 * * *');
    expect(cronExpressionSchema.safeParse('0 25 * * *').error?.issues[0]?.message).toBe('cron hour field "25": values must be within 0-23');
  });
});

describe('leases', () => {
  it('gives a slot to one owner; an expired unfinished lease is taken over; the next slot is free', async () => {
    let clock = new Date('2026-11-23T02:00:00Z').getTime();
    const leases = jobStore(store.db, () => new Date(clock));
    const a = await leases.acquire('lease-test', '2026-11-23T02:00:00.000Z', 'a', 60_000);
    expect(a).not.toBeNull();
    expect(await leases.acquire('lease-test', '2026-11-23T02:00:00.000Z', 'b', 60_000)).toBeNull();
    // Instance a "crashes" (never completes). Before expiry b still cannot take it; after, b can.
    clock += 30_000;
    expect(await leases.acquire('lease-test', '2026-11-23T02:00:00.000Z', 'b', 60_000)).toBeNull();
    // A crashed holder never blocks the next slot.
    expect(await leases.acquire('lease-test', '2026-11-24T02:00:00.000Z', 'b', 60_000)).not.toBeNull();
    clock += 31_000;
    const b = await leases.acquire('lease-test', '2026-11-23T02:00:00.000Z', 'b', 60_000);
    expect(b).not.toBeNull();
    // a lost it: renewing fails; c cannot take it from b; once completed it is never taken again.
    expect(await a!.renew(60_000)).toBe(false);
    expect(await leases.acquire('lease-test', '2026-11-23T02:00:00.000Z', 'c', 60_000)).toBeNull();
    await b!.complete();
    clock += 3_600_000;
    expect(await leases.acquire('lease-test', '2026-11-23T02:00:00.000Z', 'c', 60_000)).toBeNull();
  });

  it('lets exactly one of several concurrent contenders win', async () => {
    const leases = jobStore(store.db);
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => leases.acquire('race', 'slot-1', `owner-${i}`, 60_000)));
    expect(results.filter(Boolean)).toHaveLength(1);
  });
});

describe('scheduler across two instances', () => {
  it('runs a scheduled slot once, records it, and the other instance counts a skip', async () => {
    // Shift the clock so the next whole minute is ~400 ms away: real timers, no waiting a minute.
    const real = testNow().getTime();
    const offset = 60_000 - (real % 60_000) - 400;
    const now = () => new Date(testNow().getTime() + offset);
    let runs = 0;
    const job: JobDefinition = {
      name: 'tick', description: 'counts', schedule: '* * * * *',
      async run() { runs += 1; await new Promise((r) => setTimeout(r, 50)); return { itemsProcessed: 3, errors: [], details: {} }; },
    };
    const registries = [new Registry(), new Registry()];
    const runners = registries.map((registry, i) => createJobRunner({ db: store.db, jobs: [job], instanceId: `inst-${i}`, metrics: createJobMetrics(registry), now }));
    runners.forEach((r) => r.start());
    await new Promise((r) => setTimeout(r, 1_500));
    await Promise.all(runners.map((r) => r.stop()));
    expect(runs).toBe(1);
    const records = await runners[0]!.recentRuns('tick', 10);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ status: 'succeeded', trigger: 'schedule', dryRun: false, itemsProcessed: 3 });
    expect(new Date(records[0]!.slot).getTime() % 60_000).toBe(0);
    const succeeded = await Promise.all(registries.map((reg) => metricValue(reg, 'chat_job_runs_total', { job_name: 'tick', outcome: 'succeeded' })));
    const skipped = await Promise.all(registries.map((reg) => metricValue(reg, 'chat_job_runs_total', { job_name: 'tick', outcome: 'skipped' })));
    expect(succeeded.filter((v) => v === 1)).toHaveLength(1);
    expect(skipped.filter((v) => v === 1)).toHaveLength(1);
    const lastSuccess = await Promise.all(registries.map((reg) => metricValue(reg, 'chat_job_last_success_timestamp_seconds', { job_name: 'tick' })));
    expect(lastSuccess.some((v) => typeof v === 'number' && Math.abs(v - now().getTime() / 1000) < 10)).toBe(true);
  });

  it('records a failing run with its error and leaves last-success unset', async () => {
    const registry = new Registry();
    const runner = createJobRunner({
      db: store.db, instanceId: 'x', metrics: createJobMetrics(registry),
      jobs: [{ name: 'boom', description: 'fails', schedule: null, run: async () => { throw new Error('disk on fire'); } }],
    });
    const result = await runner.runJob('boom');
    expect(result).toMatchObject({ status: 'failed', trigger: 'manual', errors: ['disk on fire'] });
    expect((await runner.recentRuns('boom'))[0]).toMatchObject({ status: 'failed', errors: ['disk on fire'] });
    expect(await metricValue(registry, 'chat_job_last_success_timestamp_seconds', { job_name: 'boom' })).toBeUndefined();
    expect(await metricValue(registry, 'chat_job_runs_total', { job_name: 'boom', outcome: 'failed' })).toBe(1);
    await expect(runner.runJob('nope')).rejects.toThrow(/unknown job "nope"; jobs: boom/);
  });
});

describe('retention and conversation archival', () => {
  const conversationId = new ObjectId();
  const message = (seq: number, ageDays: number): MessageDoc => ({
    _id: new ObjectId(), conversationId, seq, senderId: 'alice', clientMsgId: `c${seq}`, text: `hello ${seq}`, createdAt: new Date(testNow().getTime() - ageDays * day), terms: ['hello'],
  });

  it('dry run reports what would go, real run deletes old messages in batches, records and measures it', async () => {
    const db = store.db;
    await store.messages.deleteMany({});
    await store.messages.insertMany([...Array.from({ length: 23 }, (_, i) => message(i + 1, 40)), ...Array.from({ length: 5 }, (_, i) => message(100 + i, 2))]);
    const registry = new Registry();
    const jobs = await createJobs({ db, instanceId: 'i1', metrics: createJobMetrics(registry), settings: { ...defaultJobsSettings, retentionDays: 30, retentionBatchSize: 7 }, now: testNow });

    const dry = await jobs.runJob('retention', { dryRun: true });
    expect(dry).toMatchObject({ status: 'succeeded', dryRun: true, itemsProcessed: 23, details: { wouldProcess: 23, mode: 'delete' } });
    expect(await store.messages.countDocuments({})).toBe(28);
    expect(await metricValue(registry, 'chat_job_last_success_timestamp_seconds', { job_name: 'retention' })).toBeUndefined();

    const real = await jobs.runJob('retention');
    expect(real).toMatchObject({ status: 'succeeded', dryRun: false, trigger: 'manual', itemsProcessed: 23, details: { batches: 4 } });
    expect(await store.messages.countDocuments({})).toBe(5);
    expect(await store.messages.countDocuments({ seq: { $gte: 100 } })).toBe(5);
    expect(await metricValue(registry, 'chat_job_items_processed_total', { job_name: 'retention' })).toBe(23);
    expect(await metricValue(registry, 'chat_job_last_success_timestamp_seconds', { job_name: 'retention' })).toBeGreaterThan(testNow().getTime() / 1000 - 60);

    // A restarted (or other) instance reports the last success from job_runs.
    const fresh = new Registry();
    const other = await createJobs({ db, instanceId: 'i2', metrics: createJobMetrics(fresh), settings: { ...defaultJobsSettings, retentionDays: 30 }, now: testNow });
    await other.refreshMetrics();
    expect(await metricValue(fresh, 'chat_job_last_success_timestamp_seconds', { job_name: 'retention' })).toBe(new Date(real.endedAt!).getTime() / 1000);
    expect(await metricValue(fresh, 'chat_job_last_success_timestamp_seconds', { job_name: 'conversation-archive' })).toBeUndefined();

    const listed = await jobs.listJobs();
    expect(listed.map((j) => j.name)).toEqual(['retention', 'conversation-archive']);
    expect(listed[0]).toMatchObject({ schedule: '0 2 * * *', lastRun: { status: 'succeeded', itemsProcessed: 23, dryRun: false } });
    expect(new Date(listed[0]!.nextRunAt!).getUTCHours()).toBe(2);
    await jobs.stop();
  });

  it('archive mode copies messages to messages_archive before deleting, and a re-run after a crash does not duplicate', async () => {
    await store.messages.deleteMany({});
    const old = Array.from({ length: 10 }, (_, i) => message(i + 1, 400));
    await store.messages.insertMany([...old, message(50, 1)]);
    // Simulate a run that crashed after copying three of them.
    await store.db.collection(archiveCollection).insertMany(old.slice(0, 3));
    const jobs = await createJobs({ db: store.db, instanceId: 'i1', settings: { ...defaultJobsSettings, retentionDays: 365, retentionMode: 'archive', retentionBatchSize: 4 }, now: testNow });
    const run = await jobs.runJob('retention');
    expect(run).toMatchObject({ status: 'succeeded', itemsProcessed: 10, details: { mode: 'archive' } });
    expect(await store.messages.countDocuments({})).toBe(1);
    const archived = await store.db.collection<MessageDoc>(archiveCollection).find({}).toArray();
    expect(archived.map((m) => m.seq).sort((a, b) => a - b)).toEqual(old.map((m) => m.seq));
    expect(archived[0]).toMatchObject({ text: 'hello 1', senderId: 'alice' });
  });

  it('retries a failing batch, then ends the run as failed with the reason (database gone)', async () => {
    const gone = await openStore(process.env.TEST_MONGODB_URI!, store.db.databaseName, { poolSize: 2 });
    const runner = createJobRunner({ db: store.db, instanceId: 'i1', jobs: [retentionJob(gone.db, { retentionDays: 1, mode: 'delete', batchSize: 10, schedule: null })] });
    await gone.close();
    const run = await runner.runJob('retention');
    expect(run.status).toBe('failed');
    expect(run.errors.at(-1)).toMatch(/^retention stopped after 0 messages: /);
  });

  it('retention with MESSAGE_RETENTION_DAYS=0 keeps everything', async () => {
    const jobs = await createJobs({ db: store.db, instanceId: 'i1', settings: defaultJobsSettings });
    const before = await store.messages.countDocuments({});
    expect(await jobs.runJob('retention')).toMatchObject({ status: 'succeeded', itemsProcessed: 0, details: { disabled: true } });
    expect(await store.messages.countDocuments({})).toBe(before);
  });

  it('archives conversations inactive for N days (never-used ones from createdAt), leaves the rest', async () => {
    const conv = (name: string, createdDaysAgo: number, lastMessageDaysAgo: number | null, archived = false): ConversationDoc => ({
      _id: new ObjectId(), type: 'group', name, createdBy: 'alice', createdAt: new Date(testNow().getTime() - createdDaysAgo * day), lastSeq: 0,
      lastMessageAt: lastMessageDaysAgo === null ? null : new Date(testNow().getTime() - lastMessageDaysAgo * day), archivedAt: archived ? new Date(testNow().getTime() - 5 * day) : null,
    });
    const docs = [conv('stale', 200, 100), conv('never-used', 120, null), conv('active', 200, 1), conv('new-empty', 1, null), conv('already', 300, 200, true)];
    await store.conversations.insertMany(docs);
    const jobs = await createJobs({ db: store.db, instanceId: 'i1', settings: { ...defaultJobsSettings, archiveInactiveDays: 90 }, now: testNow });

    const dry = await jobs.runJob('conversation-archive', { dryRun: true });
    expect(dry).toMatchObject({ status: 'succeeded', itemsProcessed: 2 });
    expect((dry.details.wouldArchive as string[]).sort()).toEqual([docs[0]!._id.toHexString(), docs[1]!._id.toHexString()].sort());
    expect(await store.conversations.countDocuments({ archivedAt: { $ne: null } })).toBe(1);

    const real = await jobs.runJob('conversation-archive');
    expect(real).toMatchObject({ status: 'succeeded', itemsProcessed: 2 });
    const after = await store.conversations.find({}).toArray();
    const byName = Object.fromEntries(after.map((c) => [c.name, c.archivedAt]));
    expect(byName.stale).toBeInstanceOf(Date);
    expect(byName['never-used']).toBeInstanceOf(Date);
    expect(byName.active).toBeNull();
    expect(byName['new-empty']).toBeNull();
    expect(byName.already!.getTime()).toBe(docs[4]!.archivedAt!.getTime());
    // Nothing left to do on a second run.
    expect(await jobs.runJob('conversation-archive')).toMatchObject({ itemsProcessed: 0 });
  });
});

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { MongoClient, ObjectId } from 'mongodb';
import { runOps } from './helpers';

const uri = () => {
  const value = process.env.TEST_MONGODB_URI;
  if (!value) throw new Error('run through npm test: jest global setup starts the local MongoDB-compatible server');
  return value;
};

describe('ops jobs', () => {
  const db = `t_${randomBytes(6).toString('hex')}`;
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ops-jobs-'));
  const env = { MONGODB_URI: uri(), MONGODB_DB: db, MESSAGE_RETENTION_DAYS: '30', OPS_STATE_DIR: stateDir, OPS_USER: 'tester' };
  let client: MongoClient;

  beforeAll(async () => {
    client = new MongoClient(uri());
    const conversationId = new ObjectId();
    const old = new Date(Date.now() - 40 * 86_400_000);
    const docs = Array.from({ length: 30 }, (_, i) => ({ _id: new ObjectId(), conversationId, seq: i + 1, senderId: 'u', clientMsgId: `m${i}`, text: 'x', terms: ['x'], createdAt: i < 20 ? old : new Date() }));
    await client.db(db).collection('messages').insertMany(docs);
  });
  afterAll(async () => {
    await client.db(db).dropDatabase();
    await client.close();
    fs.rmSync(stateDir, { recursive: true, force: true });
  });

  it('lists the jobs with their schedules', async () => {
    const run = await runOps(['jobs', 'list', '--json'], env);
    expect(run.code).toBe(0);
    const names = (JSON.parse(run.stdout) as { jobs: { name: string; schedule: string }[] }).jobs.map((j) => j.name);
    expect(names).toEqual(expect.arrayContaining(['retention', 'conversation-archive']));
  });

  it('lists the catalog without a database (MONGODB_URI unset): schedules, next run, last run unknown', async () => {
    const run = await runOps(['jobs', 'list', '--json'], { OPS_STATE_DIR: stateDir, MESSAGE_RETENTION_DAYS: '30', S3_BUCKET: 'media-bucket' });
    expect(run.code).toBe(0);
    const listed = JSON.parse(run.stdout) as { lastRunKnown: boolean; jobs: { name: string; schedule: string; nextRunAt: string; lastRun: null }[] };
    expect(listed.lastRunKnown).toBe(false);
    expect(listed.jobs.map((j) => [j.name, j.schedule])).toEqual([['retention', '0 2 * * *'], ['conversation-archive', '30 2 * * *'], ['orphan-uploads', '0 3 * * *']]);
    expect(listed.jobs.every((j) => j.lastRun === null && new Date(j.nextRunAt).getUTCMinutes() % 30 === 0)).toBe(true);
    const text = await runOps(['jobs', 'list'], { OPS_STATE_DIR: stateDir });
    expect(text.stdout).toContain('last run: unknown');
  });

  it('a dry run reports what retention would delete and deletes nothing; a real run deletes exactly that and is audited', async () => {
    const dry = await runOps(['jobs', 'run', 'retention', '--dry-run', '--json'], env);
    expect(dry.code).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ job: 'retention', dryRun: true, itemsProcessed: 20 });
    expect(await client.db(db).collection('messages').countDocuments()).toBe(30);

    const real = await runOps(['jobs', 'run', 'retention', '--json'], env);
    expect(real.code).toBe(0);
    expect(JSON.parse(real.stdout)).toMatchObject({ status: 'succeeded', itemsProcessed: 20 });
    expect(await client.db(db).collection('messages').countDocuments()).toBe(10);
    const audit = fs.readFileSync(path.join(stateDir, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(audit.map((a) => [a.action, a.dryRun])).toEqual([['job.retention', true], ['job.retention', false]]);
  });

  it('an unknown job is a usage error naming the next command', async () => {
    const run = await runOps(['jobs', 'run', 'nope'], env);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('ops jobs list');
  });
});

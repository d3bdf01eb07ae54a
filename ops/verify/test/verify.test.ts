import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MongoClient } from 'mongodb';
import { startTestCore, uniqueDbName, type TestCore } from '../../../core/test/harness';
import { runOps } from '../../test/helpers';
import { createOutput } from '../../cli/output';
import { postDeployVerify } from '../commands';
import { runVerify, verifyUsers } from '../verify';

/** ops verify against a real core (in-process, real local MongoDB) through the CLI and the function. */
jest.setTimeout(60_000);

let core: TestCore;
let client: MongoClient;
let stateDir: string;
const db = uniqueDbName();

beforeAll(async () => {
  core = await startTestCore({}, { db });
  client = new MongoClient(process.env.TEST_MONGODB_URI!);
  await client.connect();
  stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'verify-'));
});
afterAll(async () => {
  await core?.stop();
  await client?.close();
  fs.rmSync(stateDir, { recursive: true, force: true });
});

const conversations = () => client.db(db).collection('conversations').countDocuments();

it('passes twice in a row, reusing its conversations: nothing new for other users', async () => {
  // Someone else's conversation, so "visible to other users" is measured against real data.
  expect((await core.api('alice', 'POST', '/api/conversations', { type: 'group', name: 'team', memberIds: ['bob'] })).status).toBe(201);
  const env = { PATH: process.env.PATH, OPS_STATE_DIR: stateDir, MONGODB_URI: process.env.TEST_MONGODB_URI! };
  const first = await runOps(['verify', '--url', core.url, '--json'], env);
  expect(first.stderr).not.toContain('✗');
  expect(first.code).toBe(0);
  const report = JSON.parse(first.stdout) as { ok: boolean; checks: { name: string; ok: boolean }[]; covered: string[] };
  expect(report.checks.map((c) => c.name)).toEqual(expect.arrayContaining(['401 without a token', '400 on a bad body', '403 for a non-member', '404 on an unknown conversation', 'private group: join 403, owner adds and removes, 409 when already a member, leave', 'Socket.IO: join, typing, send/receive, read', 'gap repair by afterSeq after a reconnect', 'every documented route exercised']));
  expect(report.covered).toEqual(expect.arrayContaining(['POST /api/conversations/{id}/attachments', 'POST /api/conversations/{id}/members', 'DELETE /api/conversations/{id}/members/{userId}']));
  const afterFirst = await conversations();
  expect(afterFirst).toBe(3); // alice's, and the verification direct + group conversations

  const second = await runOps(['verify', '--url', core.url], env);
  expect(second.code).toBe(0);
  expect(second.stdout).toContain('passed');
  expect(await conversations()).toBe(afterFirst);
  for (const user of ['alice', 'bob', 'carol']) {
    const visible = (await core.api(user, 'GET', '/api/conversations')).body.items as { name?: string }[];
    expect(visible.map((c) => c.name)).toEqual(user === 'carol' ? [] : ['team']);
  }
  // The outsider left the group again; only the two verification users are members of anything it made.
  const members = await client.db(db).collection('memberships').distinct('userId');
  expect(members.sort()).toEqual(['alice', 'bob', verifyUsers.a, verifyUsers.b].sort());
});

it('checks /metrics on each instance and fails when it is missing or when maintenance is on', async () => {
  const token = (user: string) => core.token(user);
  const metricsCheck = (report: Awaited<ReturnType<typeof runVerify>>) => report.checks.find((c) => c.name.startsWith('/metrics'));
  // /metrics lives on the instance's internal listener (METRICS_PORT); the public port answers 404 for it.
  const ok = await runVerify({ url: core.url, metricsUrls: [core.core.metricsUrl], token });
  expect(metricsCheck(ok)).toMatchObject({ ok: true, detail: '1 instance(s); front door answers 404' });
  const missing = await runVerify({ url: core.url, metricsUrls: [core.url], token });
  expect(metricsCheck(missing)).toMatchObject({ ok: false, detail: `${core.url}/metrics answered 404 without chat_build_info` });
  // A front door routed to the internal listener would publish the metrics: that must fail, naming why.
  const exposed = await runVerify({ url: core.core.metricsUrl, metricsUrls: [core.core.metricsUrl], token });
  expect(metricsCheck(exposed)).toMatchObject({ ok: false, detail: `${core.core.metricsUrl}/metrics is exposed publicly (200)` });
  const other = await startTestCore({ MAINTENANCE_MODE: 'true' });
  try {
    const down = await runVerify({ url: other.url, metricsUrls: [], token });
    expect(down.ok).toBe(false);
    expect(down.checks[0]).toMatchObject({ name: '/health answers ok', ok: false, detail: 'maintenance mode is on' });
    expect(down.checks).toHaveLength(3); // stops after /health, /ready, /metrics: nothing is created
    // After a deploy during maintenance the verification is skipped (recorded), not failed.
    const lines: string[] = [];
    const out = createOutput({ stdout: { write: () => true }, stderr: { write: (l: string) => lines.push(l) } }, false);
    const record = await postDeployVerify({ values: { url: other.url }, env: { OPS_STATE_DIR: stateDir } }, out);
    expect(record).toMatchObject({ ok: true, skipped: 'maintenance mode is on (the API answers 503)' });
    expect(lines.join('')).toContain('run ops verify after: ops maintenance off');
  } finally {
    await other.stop();
  }
});

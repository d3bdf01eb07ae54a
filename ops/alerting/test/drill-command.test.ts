import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { renderAlertmanager } from '../../../alerts/generate';
import { drillAlertName } from '../../../alerts/routing';
import { startReceivers, type Receivers } from '../../../alerts/test/receivers';
import { startAlertmanager, type RunningAlertmanager } from '../../services/alertmanager';
import { freePort } from '../../services/ports';
import { runOps, sleep } from '../../test/helpers';
import type { DrillResult } from '../drill';
import { createSilence, parseNotificationCounts } from '../silences';

/**
 * `ops alerts drill` end to end: the CLI (in-process) → a real Alertmanager running the generated
 * routing (group_wait/group_interval shortened to 1 s) → a local stand-in for PagerDuty Events v2
 * (alerts/test/receivers.ts, which rejects payloads of another shape). Delivered → exit 0 and the
 * page arrived; the paging service answering 500 → exit 1 with what to do; no Alertmanager → exit 4.
 */
jest.setTimeout(120_000);

let work: string;
let stateDir: string;
let am: RunningAlertmanager | undefined;
let receivers: Receivers | undefined;
const started = Date.now();
const log = (what: string) => console.log(`[alerts drill +${((Date.now() - started) / 1000).toFixed(1)}s] ${what}`);

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-pager-drill-'));
  stateDir = path.join(work, 'state');
  receivers = await startReceivers();
  const file = path.join(work, 'alertmanager.yml');
  fs.writeFileSync(file, renderAlertmanager({
    endpoints: { pagerdutyUrl: receivers.pagerdutyUrl, pagerdutyRoutingKey: { value: 'drill-routing-key' }, slackWebhook: { value: receivers.slackUrl } },
    timingOverride: { groupWait: '1s', groupInterval: '1s' },
  }));
  am = await startAlertmanager(file, work, 'pager-drill-alertmanager');
});

afterAll(async () => {
  await am?.stop();
  await receivers?.close();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

const env = () => ({ OPS_STATE_DIR: stateDir, OPS_USER: 'oncall@test', ALERTMANAGER_URL: am!.url });
const audit = () => fs.readFileSync(path.join(stateDir, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { action: string; outcome: string; detail: string });

it('delivered: the drill page reaches the paging receiver (PagerDuty Events v2 shape) labelled as a drill, exit 0, resolved, audited', async () => {
  const t0 = Date.now();
  const run = await runOps(['alerts', 'drill', '--timeout', '60s', '--json'], env());
  log(`delivered drill: exit ${run.code} after ${Date.now() - t0} ms`);
  expect(run.stderr).toMatch(/drill alert SwitchboardPagerDrill drill_id=\w+ posted/);
  expect(run.stderr).toContain('routed to pager, chat');
  expect(run.code).toBe(0);
  const result = JSON.parse(run.stdout) as DrillResult;
  expect(result).toMatchObject({ outcome: 'delivered', env: 'local', resolved: true });
  expect(result.sent).toBeGreaterThanOrEqual(1);
  const page = receivers!.pages.find((p) => p.body.event_action === 'trigger' && JSON.stringify(p.body).includes(result.drillId));
  expect(page).toBeDefined();
  expect(page!.body.routing_key).toBe('drill-routing-key');
  expect(page!.body.payload!.summary).toContain(`${drillAlertName} (local): DRILL, not an incident`);
  expect(page!.body.links!.map((l) => l.href)).toEqual(['runbooks/README.md#prove-the-pager-path', 'http://localhost:3000/d/switchboard-overview']);
  expect(receivers!.rejected).toEqual([]);
  // The resolve reaches the paging service too (group_interval 1 s here); wait for it so it does not count in the next drill.
  const deadline = Date.now() + 30_000;
  while (!receivers!.pages.some((p) => p.body.event_action === 'resolve')) {
    if (Date.now() > deadline) throw new Error('the resolve of the drill page never arrived');
    await sleep(200);
  }
  log(`resolve arrived ${Date.now() - t0} ms after the drill started`);
  expect(audit().at(-1)).toMatchObject({ action: 'alerts.drill', outcome: 'succeeded' });
});

it('the paging service answers 500: not delivered, exit 1 with the reason and what to do next (never 0)', async () => {
  receivers!.failPagesWith(500);
  const before = receivers!.pages.length;
  try {
    const t0 = Date.now();
    const run = await runOps(['alerts', 'drill', '--timeout', '60s'], env());
    log(`failing drill: exit ${run.code} after ${Date.now() - t0} ms\n${run.stderr}${run.stdout}`);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/pager path of local: FAILED \((Alertmanager gave up delivering to pagerduty|every pagerduty request failed)/);
    expect(run.stdout).toMatch(/→ next: look at Alertmanager's log .*rerun ops alerts drill --env local/);
    expect(run.stderr).toMatch(/pagerduty requests since the drill: \d+ \(\d+ failed\)/);
    expect(receivers!.pages.length).toBe(before);
    expect(audit().at(-1)).toMatchObject({ action: 'alerts.drill', outcome: 'failed' });
  } finally {
    receivers!.failPagesWith(undefined);
  }
});

it('a silence over the environment holds the drill page: failed, exit 1, naming the silence and how to find it (a silenced pager path is not a working one)', async () => {
  const now = new Date();
  const id = await createSilence(am!.url, { matchers: [{ name: 'environment', value: 'local', isRegex: false, isEqual: true }], startsAt: now.toISOString(), endsAt: new Date(now.getTime() + 10 * 60_000).toISOString(), createdBy: 'test', comment: 'everything in local' });
  try {
    const run = await runOps(['alerts', 'drill', '--timeout', '30s', '--json'], env());
    expect(run.code).toBe(1);
    const result = JSON.parse(run.stdout) as DrillResult;
    expect(result).toMatchObject({ outcome: 'failed', reason: `the drill alert is suppressed (silence ${id}): it cannot page`, resolved: true });
    expect(result.next).toMatch(/^amtool silence query --alertmanager\.url=\S+ environment=local; expire what matches the drill/);
    // The 500 case's page may still arrive now that the stand-in answers again (Alertmanager kept retrying): only this drill's counts.
    await sleep(2_000);
    expect(receivers!.pages.filter((p) => JSON.stringify(p.body).includes(result.drillId))).toEqual([]);
  } finally {
    await fetch(`${am!.url}/api/v2/silence/${id}`, { method: 'DELETE' });
  }
});

it('Alertmanager unreachable: unknown with the reason and the next command, exit 4', async () => {
  const closed = `http://127.0.0.1:${await freePort()}`;
  const run = await runOps(['alerts', 'drill', '--alertmanager-url', closed], env());
  expect(run.code).toBe(4);
  expect(run.stdout).toMatch(/^pager path of local: unknown \(Alertmanager at http:\/\/127\.0\.0\.1:\d+ did not answer: .*\) → next: .*port-forward/m);
  expect(audit().at(-1)).toMatchObject({ action: 'alerts.drill', outcome: 'info' });
  // And with none configured at all.
  const none = await runOps(['alerts', 'drill'], { ...env(), ALERTMANAGER_URL: '' });
  expect(none.code).toBe(4);
  expect(none.stdout).toContain('unknown (no Alertmanager configured for local)');
});

it('reads the counters per integration, summing receiver_name/reason series (newer Alertmanagers)', () => {
  const counts = parseNotificationCounts([
    '# TYPE alertmanager_notification_requests_total counter',
    'alertmanager_notification_requests_total{integration="pagerduty"} 3',
    'alertmanager_notification_requests_failed_total{integration="pagerduty"} 1',
    'alertmanager_notifications_failed_total{integration="pagerduty",reason="serverError",receiver_name="pager"} 1',
    'alertmanager_notifications_failed_total{integration="pagerduty",reason="clientError",receiver_name="pager"} 2',
    'alertmanager_notifications_total{integration="slack"} 7',
    'alertmanager_alerts{state="active"} 1',
  ].join('\n'));
  expect(counts).toEqual({ requests: { pagerduty: 3 }, requestsFailed: { pagerduty: 1 }, notificationsFailed: { pagerduty: 3 }, notifications: { slack: 7 } });
});

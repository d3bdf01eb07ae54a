import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { startTestCore, type TestCore } from '../../core/test/harness';
import { requireMongoJars } from '../../ops/services/mongo';
import { freePort, waitForPort } from '../../ops/services/ports';
import { spawnService, type RunningService } from '../../ops/services/service-process';
import { requireCommand } from '../../ops/services/system-packages';
import { amtoolCommand, createSilence, expireMaintenanceSilences, maintenanceSilence } from '../../ops/alerting/silences';
import { startAlertmanager, type RunningAlertmanager } from '../../ops/services/alertmanager';
import { alertsConfig } from '../config';
import { renderAlertmanager } from '../generate';
import { checkLinks, localLinks } from '../links';
import { buildRuleGroups, dashboardUrl, runbookUrl } from '../rules';
import { isAlertingRule } from '../types';
import { shippedExpressions } from './expressions';
import { startReceivers, type Receivers } from './receivers';

/**
 * Fire drill, end to end: a real Prometheus (Debian package) scrapes a real core every second and
 * evaluates the shipped rules (only `for:` and the evaluation interval shortened, through the test
 * override); it sends to a real Alertmanager running the generated routing (only group_wait and
 * group_interval shortened), whose receivers are local stand-ins for PagerDuty Events v2 and a
 * Slack webhook (./receivers.ts). Scenarios: stop MongoDB → the page arrives with summary,
 * runbook_url and dashboard link, and the availability burn page it causes is inhibited; MongoDB
 * back → resolved; maintenance silence first → the page is held until the silence expires.
 * Every delay is printed ([drill] lines) and the page's is bounded by for + evaluation + group_wait.
 */
jest.setTimeout(180_000);

/** The drill's overrides of the shipped timings (same rules and routing otherwise). */
const drill = { forScale: 5, evaluation: '1s', scrape: '1s', groupWait: '1s', groupInterval: '1s', environment: 'drill' };
const secondsOf = (d: string) => Number(d.replace(/s$/, ''));
/** The drill's `for:` of an alert (its page tier). */
const forOf = (alert: string) => buildRuleGroups({ forScale: drill.forScale }).flatMap((g) => g.rules.filter(isAlertingRule)).find((r) => r.alert === alert && r.labels.severity === 'page')?.for ?? '?';

interface PromAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing';
}

const mongoDir = path.join(__dirname, '..', '..', 'ops', 'services', 'mongo');
let work: string;
let mongoPort: number;
let mongo: RunningService | undefined;
let prometheus: RunningService | undefined;
let core: TestCore | undefined;
let alertmanager: RunningAlertmanager | undefined;
let receivers: Receivers | undefined;
let promUrl: string;
const started = Date.now();
const log = (what: string) => console.log(`[drill +${((Date.now() - started) / 1000).toFixed(1)}s] ${what}`);

/** mongo-java-server (memory) on a fixed port, so it can be stopped and started again at the same address. */
async function startMongo(): Promise<RunningService> {
  const jars = requireMongoJars();
  return spawnService({
    name: `drill mongo-java-server :${mongoPort}`,
    command: 'java',
    args: ['-Xmx512m', '-XX:+UseSerialGC', '-cp', `${jars}/*`, path.join(mongoDir, 'Launcher.java'), String(mongoPort), 'memory'],
    logFile: path.join(work, 'mongo.log'),
    waitReady: () => waitForPort(mongoPort, 60_000),
    address: `mongodb://127.0.0.1:${mongoPort}`,
    stdinPipe: true,
  });
}

async function alerts(): Promise<PromAlert[]> {
  const response = await fetch(`${promUrl}/api/v1/alerts`, { signal: AbortSignal.timeout(2_000) });
  const body = (await response.json()) as { data: { alerts: PromAlert[] } };
  return body.data.alerts;
}

async function query(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const response = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`, { signal: AbortSignal.timeout(2_000) });
  return ((await response.json()) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } }).data.result;
}

/** Polls until check() returns a value, or fails with what was last seen. */
async function until<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) {
        log(what);
        return value;
      }
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`drill: ${what} did not happen within ${timeoutMs} ms${last ? ` (last error: ${String(last)})` : ''}\n  alerts: ${JSON.stringify(await alerts().catch(() => 'unavailable'))}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

const alertIn = (name: string, states: PromAlert['state'][]) => async () => (await alerts()).find((a) => a.labels.alertname === name && states.includes(a.state));

beforeAll(async () => {
  const prometheusBin = requireCommand('prometheus');
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-drill-'));
  mongoPort = await freePort();
  mongo = await startMongo();
  core = await startTestCore({ MONGODB_URI: `mongodb://127.0.0.1:${mongoPort}` });
  // Prometheus scrapes the internal listener, as in Kubernetes: the public port has no /metrics.
  const target = new URL(core.core.metricsUrl).host;

  // The generated routing with the receivers pointed at the local stand-ins and short group timings.
  receivers = await startReceivers();
  fs.writeFileSync(
    path.join(work, 'alertmanager.yml'),
    renderAlertmanager({
      endpoints: { pagerdutyUrl: receivers.pagerdutyUrl, pagerdutyRoutingKey: { value: 'drill-routing-key' }, slackWebhook: { value: receivers.slackUrl } },
      timingOverride: { groupWait: drill.groupWait, groupInterval: drill.groupInterval },
    }),
  );
  alertmanager = await startAlertmanager(path.join(work, 'alertmanager.yml'), work, 'drill-alertmanager');

  // Shipped rules with every `for:` shortened (test override), evaluated every second.
  fs.writeFileSync(path.join(work, 'rules.yml'), stringify({ groups: buildRuleGroups({ forScale: drill.forScale, interval: drill.evaluation }) }, { lineWidth: 0 }));
  fs.writeFileSync(
    path.join(work, 'prometheus.yml'),
    stringify({
      global: { scrape_interval: drill.scrape, evaluation_interval: drill.evaluation, scrape_timeout: '900ms', external_labels: { environment: drill.environment } },
      rule_files: [path.join(work, 'rules.yml')],
      alerting: { alertmanagers: [{ static_configs: [{ targets: [new URL(alertmanager.url).host] }] }] },
      scrape_configs: [{ job_name: alertsConfig.job, static_configs: [{ targets: [target] }] }],
    }),
  );
  const promPort = await freePort();
  promUrl = `http://127.0.0.1:${promPort}`;
  prometheus = await spawnService({
    name: 'drill prometheus',
    command: prometheusBin,
    // resend-delay 1s: a firing alert reaches Alertmanager on the evaluation that fires it and is re-sent each second.
    args: [`--config.file=${path.join(work, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(work, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--rules.alert.resend-delay=1s', '--log.level=warn'],
    logFile: path.join(work, 'prometheus.log'),
    waitReady: async () => {
      await waitForPort(promPort, 30_000);
      await until('prometheus ready', 30_000, async () => ((await fetch(`${promUrl}/-/ready`)).ok ? true : undefined));
    },
    address: promUrl,
  });
  log(`prometheus ${promUrl} scrapes core ${core.url} (mongodb :${mongoPort}) and sends to alertmanager ${alertmanager.url} → receivers ${receivers.url}; work dir ${work}`);
});

afterAll(async () => {
  await core?.stop().catch(() => undefined);
  await prometheus?.stop();
  await alertmanager?.stop();
  await receivers?.close();
  await mongo?.stop();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

it('every dashboard query and every PromQL block of the runbooks is valid PromQL for the real Prometheus', async () => {
  const runbooksDir = path.join(__dirname, '..', '..', 'runbooks');
  const runbookBlocks = fs.readdirSync(runbooksDir).filter((f) => f.endsWith('.md')).flatMap((f) =>
    [...fs.readFileSync(path.join(runbooksDir, f), 'utf8').matchAll(/```promql\n([\s\S]*?)```/g)].flatMap((m) => (m[1] ?? '').split('\n').filter((l) => l.trim()).map((expr) => ({ where: `runbooks/${f}`, expr }))),
  );
  const dashboardQueries = shippedExpressions().filter((e) => e.where.startsWith('dashboard') && !e.where.includes(' variable '));
  const grafana = (expr: string) => expr.replaceAll('$__rate_interval', '1m').replaceAll('$job', alertsConfig.job).replaceAll('$instance', '.+');
  const invalid: string[] = [];
  for (const { where, expr } of [...dashboardQueries, ...runbookBlocks]) {
    const response = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(grafana(expr))}`, { signal: AbortSignal.timeout(5_000) });
    const body = (await response.json()) as { status: string; error?: string };
    if (body.status !== 'success') invalid.push(`${where}: ${body.error ?? response.status}\n    ${expr}`);
  }
  expect(dashboardQueries.length + runbookBlocks.length).toBeGreaterThan(60);
  expect(invalid).toEqual([]);
});

interface AmAlert {
  labels: Record<string, string>;
  status: { state: 'active' | 'suppressed' | 'unprocessed'; inhibitedBy: string[]; silencedBy: string[] };
}
const amAlerts = async () => (await (await fetch(`${alertmanager!.url}/api/v2/alerts`, { signal: AbortSignal.timeout(2_000) })).json()) as AmAlert[];
const triggers = (alert: string, after = 0) => (receivers?.pages ?? []).filter((p) => p.at >= after && p.body.event_action === 'trigger' && p.body.payload?.summary.includes(alert));
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
/** Delays per scenario, printed as one table at the end. */
const timings: { scenario: string; step: string; ms: number; bound?: number }[] = [];

/** Users keep sending while MongoDB is away (the 5xx the burn alert reads). */
function sendLoad(t: TestCore, id: string) {
  let n = 0;
  const statuses: number[] = [];
  let sending = true;
  const send = () => t.api('drill-alice', 'POST', `/api/conversations/${id}/messages`, { clientMsgId: `l-${Date.now()}-${n++}`, text: 'drill' }).then((r) => r.status, () => 0);
  const done = (async () => {
    while (sending) {
      void send().then((s) => statuses.push(s));
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return { statuses, stop: async () => { sending = false; await done; } };
}

let conversationId: string;

async function stopMongo(): Promise<number> {
  await mongo?.stop();
  mongo = undefined;
  log('fault injected: mongodb stopped');
  return Date.now();
}

async function restoreMongo(): Promise<void> {
  mongo = await startMongo();
  log('restored: mongodb started again');
  await until('SwitchboardMongoDBUnreachable cleared', 45_000, async () => ((await alertIn('SwitchboardMongoDBUnreachable', ['pending', 'firing'])()) ? undefined : true));
  await until('chat_dependency_up{dependency="mongodb"} back to 1', 20_000, async () => ((await query(`chat_dependency_up{job="${alertsConfig.job}",dependency="mongodb"} == 1`)).length ? true : undefined));
}

it('MongoDB stopped: the page arrives with summary, runbook_url and dashboard link within for + evaluation + group_wait; the availability burn page is inhibited; MongoDB back: resolved', async () => {
  const t = core as TestCore;
  const created = await t.api('drill-alice', 'POST', '/api/conversations', { type: 'group', name: 'drill', memberIds: ['drill-bob'] });
  expect(created.status).toBe(201);
  conversationId = created.body.id as string;
  let n = 0;
  const send = () => t.api('drill-alice', 'POST', `/api/conversations/${conversationId}/messages`, { clientMsgId: `d-${n++}`, text: 'drill' }).then((r) => r.status, () => 0);

  // Healthy baseline: scraped, dependency up, some 2xx traffic, nothing firing, nothing paged.
  for (let i = 0; i < 20; i++) expect(await send()).toBe(201);
  await until('baseline: prometheus sees chat_dependency_up{dependency="mongodb"} == 1', 20_000, async () => ((await query(`chat_dependency_up{job="${alertsConfig.job}",dependency="mongodb"} == 1`)).length ? true : undefined));
  expect((await alerts()).filter((a) => a.labels.alertname === 'SwitchboardMongoDBUnreachable' || a.labels.alertname === 'SwitchboardApiErrorBudgetBurn')).toEqual([]);
  expect(receivers!.pages).toEqual([]);

  const fault = await stopMongo();
  const load = sendLoad(t, conversationId);
  try {
    await until('prometheus sees chat_dependency_up{dependency="mongodb"} == 0', 30_000, async () => ((await query(`chat_dependency_up{job="${alertsConfig.job}",dependency="mongodb"} == 0`)).length ? true : undefined));
    const seen = Date.now();
    const firing = await until('SwitchboardMongoDBUnreachable firing', 30_000, alertIn('SwitchboardMongoDBUnreachable', ['firing']));
    const fired = Date.now();
    expect(firing.labels).toMatchObject({ severity: 'page', dependency: 'mongodb', job: alertsConfig.job });
    expect(firing.annotations.description).not.toMatch(/error expanding|<no value>/);
    const page = await until('page for SwitchboardMongoDBUnreachable at the PagerDuty stand-in', 30_000, async () => triggers('SwitchboardMongoDBUnreachable', fault)[0]);
    const bound = (secondsOf(forOf('SwitchboardMongoDBUnreachable')) + secondsOf(drill.evaluation) + secondsOf(drill.groupWait)) * 1000;
    timings.push(
      { scenario: 'page', step: 'fault → metric down (core check every 5 s + scrape)', ms: seen - fault },
      { scenario: 'page', step: 'metric down → firing (for + evaluation)', ms: fired - seen },
      { scenario: 'page', step: 'firing → notified (group_wait)', ms: page.at - fired },
      // Polling granularity (500 ms) and the scrape that saw the metric add up to scrape + 1 s.
      { scenario: 'page', step: 'metric down → notified', ms: page.at - seen, bound: bound + secondsOf(drill.scrape) * 1000 + 1_500 },
      { scenario: 'page', step: 'fault → notified', ms: page.at - fault },
    );
    expect(page.at - seen).toBeLessThanOrEqual(bound + secondsOf(drill.scrape) * 1000 + 1_500);

    // The page carries what on-call needs: summary, runbook and dashboard links that resolve.
    expect(page.body.routing_key).toBe('drill-routing-key');
    expect(page.body.payload?.summary).toContain('cannot reach MongoDB');
    expect(page.body.payload?.summary).toContain(`(${drill.environment})`);
    const links = Object.fromEntries((page.body.links ?? []).map((l) => [l.text, l.href]));
    expect(links).toEqual({ Runbook: runbookUrl('SwitchboardMongoDBUnreachable'), Dashboard: dashboardUrl('switchboard-dependencies') });
    expect(checkLinks([{ alert: 'SwitchboardMongoDBUnreachable', annotations: { runbook_url: links.Runbook!, dashboard: links.Dashboard! } }], localLinks, { strict: false })).toEqual([]);
    // Mirrored to chat (Slack webhook shape) with the same links.
    const chat = await until('the page mirrored to the Slack stand-in', 10_000, async () => receivers!.chat.find((c) => c.at >= fault && c.body.attachments?.[0]?.title?.includes('SwitchboardMongoDBUnreachable')));
    expect(chat.body.attachments?.[0]?.text).toContain(`Runbook: ${links.Runbook}`);

    // The availability burn it causes fires in Prometheus but is inhibited in Alertmanager: no page.
    await until('SwitchboardApiErrorBudgetBurn (page) firing in prometheus', 45_000, async () => (await alerts()).find((a) => a.labels.alertname === 'SwitchboardApiErrorBudgetBurn' && a.labels.severity === 'page' && a.state === 'firing'));
    const burnFired = Date.now();
    const inhibited = await until('SwitchboardApiErrorBudgetBurn inhibited in alertmanager', 10_000, async () => (await amAlerts()).find((a) => a.labels.alertname === 'SwitchboardApiErrorBudgetBurn' && a.labels.severity === 'page' && a.status.inhibitedBy.length > 0));
    expect(inhibited.status.state).toBe('suppressed');
    // Long enough for group_wait and a group_interval to have passed: a page would have been sent by now.
    await new Promise((r) => setTimeout(r, (secondsOf(drill.groupWait) + secondsOf(drill.groupInterval)) * 1000 + 2_000));
    expect(triggers('SwitchboardApiErrorBudgetBurn', fault)).toEqual([]);
    timings.push({ scenario: 'inhibited burn page', step: `burn firing → checked silent for ${secs(Date.now() - burnFired)}`, ms: 0 });
    expect(load.statuses.filter((s) => s >= 500).length).toBeGreaterThan(0);
  } finally {
    await load.stop();
  }

  await restoreMongo();
  const resolved = await until('resolve event for the MongoDB page', 20_000, async () => receivers!.pages.find((p) => p.at > fault && p.body.event_action === 'resolve' && p.body.dedup_key === page0DedupKey()));
  expect(resolved.body.dedup_key).toBeTruthy();
  expect(receivers!.rejected).toEqual([]);
});

/** Alertmanager keys a group's PagerDuty incident by the group; the resolve uses the same dedup_key. */
const page0DedupKey = () => triggers('SwitchboardMongoDBUnreachable')[0]?.body.dedup_key;

it('maintenance first: the maintenance silence holds the MongoDB page; expiring it (maintenance off) lets the page through', async () => {
  const t = core as TestCore;
  if (!mongo) await restoreMongo(); // the previous scenario failed midway: start from a healthy state
  await until('nothing firing for MongoDB before maintenance', 30_000, async () => ((await alertIn('SwitchboardMongoDBUnreachable', ['pending', 'firing'])()) ? undefined : true));
  const now = new Date();
  const silence = maintenanceSilence({ env: drill.environment, operator: 'drill-operator', message: 'fire drill maintenance', now, endsAt: new Date(now.getTime() + 10 * 60_000) });
  expect(amtoolCommand(silence, alertmanager!.url)).toContain(`'environment=${drill.environment}'`);
  const id = await createSilence(alertmanager!.url, silence);
  log(`maintenance silence ${id} created`);

  const fault = await stopMongo();
  const load = sendLoad(t, conversationId);
  try {
    await until('SwitchboardMongoDBUnreachable firing (maintenance)', 45_000, alertIn('SwitchboardMongoDBUnreachable', ['firing']));
    const fired = Date.now();
    const held = await until('SwitchboardMongoDBUnreachable silenced in alertmanager', 10_000, async () => (await amAlerts()).find((a) => a.labels.alertname === 'SwitchboardMongoDBUnreachable' && a.status.silencedBy.includes(id)));
    expect(held.status.state).toBe('suppressed');
    await new Promise((r) => setTimeout(r, (secondsOf(drill.groupWait) + secondsOf(drill.groupInterval)) * 1000 + 2_000));
    expect(triggers('SwitchboardMongoDBUnreachable', fault)).toEqual([]);
    timings.push({ scenario: 'maintenance', step: `fault → firing, silenced (no page for ${secs(Date.now() - fired)} after firing)`, ms: fired - fault });

    // maintenance off: the silence expires and the still-firing alert pages.
    const expired = await expireMaintenanceSilences(alertmanager!.url, drill.environment);
    expect(expired).toEqual([id]);
    const off = Date.now();
    const page = await until('page after the maintenance silence expired', 20_000, async () => triggers('SwitchboardMongoDBUnreachable', off)[0]);
    timings.push({ scenario: 'maintenance', step: 'silence expired → notified', ms: page.at - off });
  } finally {
    await load.stop();
    await expireMaintenanceSilences(alertmanager!.url, drill.environment).catch(() => undefined);
  }
  await restoreMongo();
  expect(receivers!.rejected).toEqual([]);
});

afterAll(() => {
  const rows = timings.map((r) => `| ${r.scenario} | ${r.step} | ${r.ms ? secs(r.ms) : '-'} | ${r.bound ? `≤ ${secs(r.bound)}` : ''} |`);
  console.log(`[drill] timings (for: shipped / ${drill.forScale} (MongoDBUnreachable ${forOf('SwitchboardMongoDBUnreachable')}, burn page ${forOf('SwitchboardApiErrorBudgetBurn')}), evaluation ${drill.evaluation}, scrape ${drill.scrape}, group_wait ${drill.groupWait})\n| scenario | step | delay | bound |\n| --- | --- | --- | --- |\n${rows.join('\n')}`);
});

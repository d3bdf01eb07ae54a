import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { startTestCore, type TestCore } from '../../core/test/harness';
import { requireMongoJars } from '../../ops/services/mongo';
import { freePort, waitForPort } from '../../ops/services/ports';
import { spawnService, type RunningService } from '../../ops/services/service-process';
import { requireCommand } from '../../ops/services/system-packages';
import { alertsConfig } from '../config';
import { buildRuleGroups } from '../rules';
import { shippedExpressions } from './expressions';

/**
 * Live drill: a real Prometheus (Debian package) scrapes a real core every second and evaluates
 * the shipped rules (only `for:` shortened, through the test override). We stop the core's
 * MongoDB, watch SwitchboardMongoDBUnreachable and SwitchboardApiErrorBudgetBurn go pending and
 * firing through Prometheus's API, start MongoDB again and watch the MongoDB alert clear.
 */
jest.setTimeout(150_000);

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

  // Shipped rules with every `for:` shortened (test override), evaluated every second.
  fs.writeFileSync(path.join(work, 'rules.yml'), stringify({ groups: buildRuleGroups({ forOverride: '3s', interval: '1s' }) }, { lineWidth: 0 }));
  fs.writeFileSync(
    path.join(work, 'prometheus.yml'),
    stringify({
      global: { scrape_interval: '1s', evaluation_interval: '1s', scrape_timeout: '900ms' },
      rule_files: [path.join(work, 'rules.yml')],
      scrape_configs: [{ job_name: alertsConfig.job, static_configs: [{ targets: [target] }] }],
    }),
  );
  const promPort = await freePort();
  promUrl = `http://127.0.0.1:${promPort}`;
  prometheus = await spawnService({
    name: 'drill prometheus',
    command: prometheusBin,
    args: [`--config.file=${path.join(work, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(work, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn'],
    logFile: path.join(work, 'prometheus.log'),
    waitReady: async () => {
      await waitForPort(promPort, 30_000);
      await until('prometheus ready', 30_000, async () => ((await fetch(`${promUrl}/-/ready`)).ok ? true : undefined));
    },
    address: promUrl,
  });
  log(`prometheus ${promUrl} scrapes core ${core.url} (mongodb :${mongoPort}), work dir ${work}`);
});

afterAll(async () => {
  await core?.stop().catch(() => undefined);
  await prometheus?.stop();
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

it('MongoDB stopped: SwitchboardMongoDBUnreachable and SwitchboardApiErrorBudgetBurn fire; MongoDB back: the MongoDB alert clears', async () => {
  const t = core as TestCore;
  const created = await t.api('drill-alice', 'POST', '/api/conversations', { type: 'group', name: 'drill', memberIds: ['drill-bob'] });
  expect(created.status).toBe(201);
  const id = created.body.id as string;
  let n = 0;
  const send = () => t.api('drill-alice', 'POST', `/api/conversations/${id}/messages`, { clientMsgId: `d-${n++}`, text: 'drill' }).then((r) => r.status, () => 0);

  // Healthy baseline: scraped, dependency up, some 2xx traffic, and nothing firing.
  for (let i = 0; i < 20; i++) expect(await send()).toBe(201);
  await until('baseline: prometheus sees chat_dependency_up{dependency="mongodb"} == 1', 20_000, async () => ((await query(`chat_dependency_up{job="${alertsConfig.job}",dependency="mongodb"} == 1`)).length ? true : undefined));
  expect((await alerts()).filter((a) => a.labels.alertname === 'SwitchboardMongoDBUnreachable' || a.labels.alertname === 'SwitchboardApiErrorBudgetBurn')).toEqual([]);

  // Fault: the database goes away while users keep sending.
  await mongo?.stop();
  mongo = undefined;
  log('fault injected: mongodb stopped');
  const statuses: number[] = [];
  let sending = true;
  const load = (async () => {
    while (sending) {
      void send().then((s) => statuses.push(s));
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  try {
    await until('SwitchboardMongoDBUnreachable pending or firing', 30_000, alertIn('SwitchboardMongoDBUnreachable', ['pending', 'firing']));
    const firing = await until('SwitchboardMongoDBUnreachable firing', 30_000, alertIn('SwitchboardMongoDBUnreachable', ['firing']));
    expect(firing.labels).toMatchObject({ severity: 'page', dependency: 'mongodb', job: alertsConfig.job });
    expect(firing.annotations.runbook_url).toMatch(/\/runbooks\/SwitchboardMongoDBUnreachable\.md$/);
    expect(firing.annotations.description).not.toMatch(/error expanding|<no value>/);
    const burn = await until('SwitchboardApiErrorBudgetBurn (page) firing', 45_000, async () => (await alerts()).find((a) => a.labels.alertname === 'SwitchboardApiErrorBudgetBurn' && a.labels.severity === 'page' && a.state === 'firing'));
    expect(burn.annotations.description).toMatch(/% of API requests answered 5xx/);
    expect(statuses.filter((s) => s >= 500).length).toBeGreaterThan(0);
  } finally {
    sending = false;
    await load;
  }

  // Restore: the same address answers again; the core's next 5-second check sees it.
  mongo = await startMongo();
  log('restored: mongodb started again');
  await until('SwitchboardMongoDBUnreachable cleared', 45_000, async () => ((await alertIn('SwitchboardMongoDBUnreachable', ['pending', 'firing'])()) ? undefined : true));
  expect((await query(`chat_dependency_up{job="${alertsConfig.job}",dependency="mongodb"}`))[0]?.value[1]).toBe('1');
});

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startAlertmanager, type RunningAlertmanager } from '../../ops/services/alertmanager';
import { requireCommand } from '../../ops/services/system-packages';
import { alertmanagerFile, generatedDir, renderAlertmanager } from '../generate';
import { localLinks } from '../links';
import { drillAlert, drillAlertName, inhibitions, maintenanceExplains, receiversFor, routingConfig, unknownAlertReferences } from '../routing';
import { buildRuleGroups, durationSeconds } from '../rules';
import { isAlertingRule } from '../types';

/**
 * Routing and inhibition tested with the real tools (Debian prometheus-alertmanager): amtool checks
 * the committed alertmanager.yml and resolves every alert's receivers through `config routes test`;
 * a real Alertmanager decides which alerts each cause inhibits.
 */
jest.setTimeout(60_000);

const committed = path.join(generatedDir, alertmanagerFile);
const alerting = buildRuleGroups().flatMap((g) => g.rules.filter(isAlertingRule));
/** One row per alert and severity (SwitchboardCertificateExpiring and the burn alerts have two). */
const rows = [...new Map(alerting.map((r) => [`${r.alert} ${r.labels.severity}`, r])).values()];

function amtool(args: string[]) {
  const run = spawnSync(requireCommand('amtool'), args, { encoding: 'utf8' });
  return { status: run.status, stdout: run.stdout.trim(), output: `${run.stdout}${run.stderr}` };
}

/** The receivers amtool routes a label set to, in order (`config routes test` prints them comma-separated). */
function routedTo(labels: Record<string, string>, file = committed): string[] {
  const run = amtool(['config', 'routes', 'test', `--config.file=${file}`, ...Object.entries(labels).map(([k, v]) => `${k}=${v}`)]);
  if (run.status !== 0) throw new Error(`amtool config routes test failed:\n${run.output}`);
  return run.stdout.split('\n').filter((l) => !l.startsWith('Warning')).join(',').split(',').map((s) => s.trim()).filter(Boolean);
}

/** What the suite treats as a routing failure: no receiver, or the root's catch-all. */
const routingProblem = (receivers: string[]) => (receivers.length === 0 ? 'no route' : receivers.includes('unrouted') ? 'lands on the default receiver (unrouted)' : undefined);

describe('alertmanager.yml', () => {
  it('is generated from alerts/*.ts and committed as generated', () => {
    expect(fs.readFileSync(committed, 'utf8')).toBe(renderAlertmanager());
  });

  it('passes amtool check-config', () => {
    const run = amtool(['check-config', committed]);
    expect({ status: run.status, output: run.output }).toMatchObject({ status: 0 });
    expect(run.output).toContain('SUCCESS');
  });

  it('names only alerts that exist in its inhibitions and maintenance list', () => {
    expect(unknownAlertReferences()).toEqual([]);
  });

  it('inhibits only alerts that fire no sooner than their cause (Alertmanager cannot take back a page already sent)', () => {
    const forOf = (alert: string) => Math.min(...alerting.filter((r) => r.alert === alert).map((r) => durationSeconds(r.for)));
    const early = inhibitions.flatMap((i) => i.targets.filter((t) => forOf(t) < forOf(i.source)).map((t) => `${t} (for ${forOf(t)} s) fires before its cause ${i.source} (for ${forOf(i.source)} s)`));
    expect(early).toEqual([]);
  });

  it('keeps secrets out of the file (receivers read them from files)', () => {
    const text = fs.readFileSync(committed, 'utf8');
    expect(text).toContain('routing_key_file:');
    expect(text).toContain('api_url_file:');
    expect(text).not.toMatch(/routing_key:|api_url:/);
  });
});

describe('every alert is routed by its severity (amtool config routes test)', () => {
  it.each(rows.map((r) => [r.alert, r.labels.severity ?? '?', r] as const))('%s (%s)', (_alert, severity, rule) => {
    const receivers = routedTo({ alertname: rule.alert, environment: 'production', ...rule.labels });
    expect({ receivers, problem: routingProblem(receivers) }).toEqual({ receivers: receiversFor(severity as 'page' | 'ticket'), problem: undefined });
  });

  it('the check fails for an alert without a service/severity route (the detector works)', () => {
    const receivers = routedTo({ alertname: 'SomethingElse', severity: 'warning' });
    expect(receivers).toEqual(['unrouted']);
    expect(routingProblem(receivers)).toBe('lands on the default receiver (unrouted)');
    expect(routingProblem([])).toBe('no route');
  });

  it(`the pager drill (ops alerts drill, ${drillAlertName}) reaches the paging receiver like a page, and nothing inhibits or maintenance-silences it`, () => {
    const { labels } = drillAlert({ env: 'production', operator: 'oncall', drillId: 'abc123', links: localLinks, startsAt: new Date(0), endsAt: new Date(60_000) });
    expect(labels).toMatchObject({ severity: 'page', drill: 'true' });
    const receivers = routedTo(labels);
    expect({ receivers, problem: routingProblem(receivers) }).toEqual({ receivers: ['pager', 'chat'], problem: undefined });
    expect(inhibitions.filter((i) => i.targets.includes(drillAlertName) || i.source === drillAlertName)).toEqual([]);
    expect(maintenanceExplains).not.toContain(drillAlertName);
  });

  it('prints the routing table (alert → receivers, inhibited by)', () => {
    const table = rows.map((r) => {
      const by = inhibitions.filter((i) => i.targets.includes(r.alert)).map((i) => i.source);
      return `| ${r.alert} | ${r.labels.severity} | ${receiversFor(r.labels.severity as 'page' | 'ticket').join(' + ')} | ${by.join(', ') || '-'} |`;
    });
    console.log(['| alert | severity | receivers | inhibited by |', '| --- | --- | --- | --- |', ...table].join('\n'));
    expect(table).toHaveLength(rows.length);
  });
});

describe('inhibition (a real Alertmanager)', () => {
  let work: string;
  let am: RunningAlertmanager | undefined;

  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-routing-'));
    // Same routing, receivers pointed at a closed port: this test reads alert status, not notifications.
    const file = path.join(work, 'alertmanager.yml');
    fs.writeFileSync(file, renderAlertmanager({ endpoints: { pagerdutyUrl: 'http://127.0.0.1:9/enqueue', pagerdutyRoutingKey: { value: 'test' }, slackWebhook: { value: 'http://127.0.0.1:9/slack' } } }));
    am = await startAlertmanager(file, work, 'routing-alertmanager');
  });

  afterAll(async () => {
    await am?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  const severityOf = (alert: string) => alerting.find((r) => r.alert === alert)?.labels.severity ?? 'page';
  const labelsOf = (alert: string, environment: string) => ({ alertname: alert, environment, job: 'switchboard-core', instance: '10.0.0.1:9464', service: routingConfig.service, severity: severityOf(alert) });

  interface AmAlert {
    labels: Record<string, string>;
    status: { state: string; inhibitedBy: string[] };
  }

  async function post(alerts: Record<string, string>[]) {
    const response = await fetch(`${am!.url}/api/v2/alerts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(alerts.map((labels) => ({ labels, annotations: { summary: 'routing test' } }))) });
    expect(response.status).toBe(200);
  }

  async function current(): Promise<AmAlert[]> {
    return (await (await fetch(`${am!.url}/api/v2/alerts`)).json()) as AmAlert[];
  }

  it('each cause inhibits exactly its targets in its own environment, and nothing in an environment without it', async () => {
    const names = [...new Set(alerting.map((r) => r.alert))];
    const sources = new Set(inhibitions.map((i) => i.source));
    // Environment cause-i: the cause, its targets and every alert that causes nothing; control-i: the same without the cause.
    const envs = new Map<string, string[]>();
    inhibitions.forEach((inh, i) => {
      const others = names.filter((n) => n !== inh.source && (!sources.has(n) || inh.targets.includes(n)));
      envs.set(`cause-${i}`, [inh.source, ...others]);
      envs.set(`control-${i}`, others);
    });
    const sent = [...envs].flatMap(([env, present]) => present.map((name) => labelsOf(name, env)));
    await post(sent);
    // Alertmanager marks an alert inhibited when its pipeline looks at it (after the group wait), not on
    // arrival: poll until the verdicts match, then look once more after a pause so that a late, wrong
    // inhibition is caught too.
    const verdicts = (seen: AmAlert[]) => {
      const problems: string[] = [];
      if (seen.length !== sent.length) problems.push(`${seen.length} of ${sent.length} alerts known`);
      for (const [env, present] of envs) {
        for (const name of present) {
          const wanted = inhibitions.some((inh) => inh.source !== name && present.includes(inh.source) && inh.targets.includes(name));
          const alert = seen.find((a) => a.labels.alertname === name && a.labels.environment === env);
          const inhibited = (alert?.status.inhibitedBy.length ?? 0) > 0;
          if (inhibited !== wanted) problems.push(`${env}: ${name} ${wanted ? 'should be' : 'should not be'} inhibited (state ${alert?.status.state})`);
        }
      }
      return problems;
    };
    const deadline = Date.now() + 30_000;
    let problems = verdicts(await current());
    while (problems.length && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      problems = verdicts(await current());
    }
    if (!problems.length) {
      await new Promise((r) => setTimeout(r, 1_000));
      problems = verdicts(await current());
    }
    expect(problems).toEqual([]);
  });

  it('the MongoDB page inhibits the availability burn page but not the delivery burn (equal on environment and job)', async () => {
    await post([labelsOf('SwitchboardMongoDBUnreachable', 'mongo-case'), labelsOf('SwitchboardApiErrorBudgetBurn', 'mongo-case'), labelsOf('SwitchboardMessageDeliveryBudgetBurn', 'mongo-case'), { ...labelsOf('SwitchboardApiErrorBudgetBurn', 'mongo-case'), job: 'other-job' }]);
    const deadline = Date.now() + 10_000;
    const find = (all: AmAlert[], name: string, job = 'switchboard-core') => all.find((a) => a.labels.environment === 'mongo-case' && a.labels.alertname === name && a.labels.job === job);
    let all: AmAlert[] = [];
    // The inhibitor learns of source alerts asynchronously: poll until the verdicts settle (or time out).
    const settled = (a: AmAlert[]) => find(a, 'SwitchboardApiErrorBudgetBurn', 'other-job') && find(a, 'SwitchboardApiErrorBudgetBurn')?.status.state === 'suppressed';
    while (Date.now() < deadline && !settled((all = await current()))) await new Promise((r) => setTimeout(r, 200));
    expect(find(all, 'SwitchboardApiErrorBudgetBurn')?.status.state).toBe('suppressed');
    expect(find(all, 'SwitchboardMessageDeliveryBudgetBurn')?.status.state).toBe('active');
    expect(find(all, 'SwitchboardApiErrorBudgetBurn', 'other-job')?.status.state).toBe('active');
  });
});

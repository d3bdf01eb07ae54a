import fs from 'node:fs';
import path from 'node:path';
import { alertsConfig } from '../../alerts/config';
import { externalMetricNames, prometheusSyntheticMetrics } from '../../alerts/external-metrics';
import { metricRefs } from '../../alerts/promql-refs';
import { alertNames, buildRuleGroups } from '../../alerts/rules';
import { metricNames, runtimeMetricNames } from '../../core/src/telemetry/metric-names';
import { createMetrics } from '../../core/src/telemetry/metrics';
import { dashboardUids } from '../../dashboards/uids';
import { commands as registry } from '../../ops/cli/registry';
import { backupMetricNames } from '../../ops/backup/metrics';
import { opsCommands, procedures, quotedOpsCommands, quotedOpsSteps, resolveOpsCommand } from '../catalog';

const dir = path.join(__dirname, '..');
const pages = fs.readdirSync(dir).filter((f) => f.endsWith('.md')).sort();
const read = (file: string) => fs.readFileSync(path.join(dir, file), 'utf8');
const alerts = alertNames();
const alertPages = alerts.map((a) => `${a}.md`);

describe('runbook catalog', () => {
  it('has one page per alert', () => {
    expect(alertPages.filter((p) => !pages.includes(p))).toEqual([]);
  });

  it('has every procedure page', () => {
    expect(Object.keys(procedures).filter((p) => !pages.includes(p))).toEqual([]);
  });

  it('has no page that is neither an alert nor a listed procedure (README.md is the index)', () => {
    expect(pages.filter((p) => p !== 'README.md' && !alertPages.includes(p) && !(p in procedures))).toEqual([]);
  });

  it('README.md links every page', () => {
    const readme = read('README.md');
    expect(pages.filter((p) => p !== 'README.md' && !readme.includes(`](${p})`))).toEqual([]);
  });
});

describe.each(alertPages)('%s', (page) => {
  const text = read(page);

  it('starts with the alert name and has Meaning, Impact, Diagnosis, Mitigation in that order', () => {
    expect(text.split('\n')[0]).toBe(`# ${page.replace(/\.md$/, '')}`);
    const headings = [...text.matchAll(/^## (.+)$/gm)].map((m) => m[1]);
    const wanted = ['Meaning', 'Impact', 'Diagnosis', 'Mitigation'];
    expect(headings.filter((h) => wanted.includes(h as string))).toEqual(wanted);
  });

  it('gives PromQL to run, a dashboard link and at least one ops command', () => {
    expect(text).toMatch(/```promql\n/);
    // Dashboards are linked as their generated file (resolves in the repository; the uid is the file name):
    // the environment's Grafana URL travels with the alert (its `dashboard` annotation), not with the page.
    expect(text).toMatch(/\]\(\.\.\/dashboards\/generated\/switchboard-[a-z]+\.json\)/);
    expect(quotedOpsCommands(page, text).length).toBeGreaterThan(0);
  });
});

describe('numbers in runbooks match alerts/config.ts', () => {
  const { slo, symptoms: s } = alertsConfig;
  const pct = (ratio: number) => `${Number((ratio * 100).toPrecision(6))}%`;
  const ms = (seconds: number) => `${seconds * 1000} ms`;
  const minutes = (d: string) => (d === '1m' ? 'a minute' : `${d.replace(/m$/, '')} minutes`);
  const wanted: Record<string, string[]> = {
    SwitchboardApiErrorBudgetBurn: [pct(slo.apiAvailability.objective)],
    SwitchboardApiLatencyBudgetBurn: [pct(slo.apiLatency.objective), ms(slo.apiLatency.thresholdSeconds)],
    SwitchboardMessageDeliveryBudgetBurn: [pct(slo.messageDelivery.objective), ms(slo.messageDelivery.thresholdSeconds)],
    SwitchboardCoreInstanceDown: [minutes(s.coreInstanceDown.for)],
    SwitchboardCoreNotReady: [minutes(s.coreNotReady.for)],
    SwitchboardMongoDBUnreachable: [minutes(s.mongodbUnreachable.for)],
    SwitchboardRedisUnreachable: [minutes(s.redisUnreachable.for)],
    SwitchboardEventLoopLagHigh: [ms(s.eventLoopLag.p99Seconds), minutes(s.eventLoopLag.for)],
    SwitchboardMemoryGrowth: [`${s.memoryGrowth.limitBytes / 1024 / 1024} MiB`, `${s.memoryGrowth.horizonHours} hours`],
    SwitchboardSocketDisconnectStorm: [`${s.socketDisconnectStorm.minDisconnectsPer5m} Socket.IO connections`, pct(s.socketDisconnectStorm.shareOfConnectionsPer5m), ...s.socketDisconnectStorm.plannedReasons],
    SwitchboardRateLimitRejectionsSpike: [`${s.rateLimitSpike.rejectionsPerSecond} request per second`, minutes(s.rateLimitSpike.for)],
    SwitchboardBackupTooOld: [`${s.backupRpo.maxAgeHours} hours`],
    SwitchboardCertificateExpiring: [`${s.certificate.ticketDays} days`, `${s.certificate.pageDays} days`],
    SwitchboardJobStale: [`${s.jobStale.maxAgeHours} hours`, `${s.jobStale.for.replace(/h$/, '')} hour`],
    SwitchboardJobFailing: [`at least ${s.jobFailing.minFailures} failed run`, s.jobFailing.window === '1d' ? 'the last day' : s.jobFailing.window],
    SwitchboardNotificationsFailing: [pct(s.notificationsFailing.failureRatio), `at least ${s.notificationsFailing.minLostPerWindow} notifications`, minutes(s.notificationsFailing.window), minutes(s.notificationsFailing.for)],
    'README.md': [pct(slo.apiAvailability.objective), ms(slo.apiLatency.thresholdSeconds), `${s.backupRpo.maxAgeHours} h`],
  };

  it.each(Object.entries(wanted))('%s states the thresholds the rules use', (name, phrases) => {
    const text = read(name.endsWith('.md') ? name : `${name}.md`).replace(/\s+/g, ' ');
    expect(phrases.filter((p) => !text.includes(p))).toEqual([]);
  });
});

describe('links', () => {
  const uids: string[] = Object.values(dashboardUids);

  it.each(pages)('%s links only dashboards that exist (generated files with a known uid), never localhost', (page) => {
    const text = read(page);
    const linked = [...text.matchAll(/\]\(\.\.\/dashboards\/generated\/([A-Za-z0-9_-]+)\.json\)/g)].map((m) => m[1] as string);
    expect(linked.filter((uid) => !uids.includes(uid) || !fs.existsSync(path.join(dir, '..', 'dashboards', 'generated', `${uid}.json`)))).toEqual([]);
    expect(text).not.toMatch(/\]\(https?:\/\/(localhost|127\.0\.0\.1)|\]\(\/d\//);
  });

  it.each(pages)('%s links only runbook pages that exist', (page) => {
    const linked = [...read(page).matchAll(/\]\(([A-Za-z0-9_.-]+\.md)(#[^)]*)?\)/g)].map((m) => m[1]);
    expect(linked.filter((p) => !pages.includes(p as string))).toEqual([]);
  });

  it('restore-from-backup.md states the measured RTO and how to re-measure it', () => {
    const page = read('restore-from-backup.md');
    expect(page).toMatch(/\*\*Expected RTO\*\* \(measured with `npm run bench:backup`/);
    expect(page).toMatch(/≈ \d+ s per million messages/);
  });
});

describe('ops commands quoted in runbooks', () => {
  const quoted = pages.flatMap((p) => quotedOpsCommands(p, read(p)));

  it('are many (the extractor works)', () => {
    expect(quoted.length).toBeGreaterThan(40);
    expect(quotedOpsCommands('x.md', 'run `ops status --json` then\n```sh\n$ ops lock acquire -m "restore"  # hold\n```\n')).toEqual([
      { file: 'x.md', text: 'ops status --json' },
      { file: 'x.md', text: 'ops lock acquire -m "restore"' },
    ]);
    // Document order (a procedure runs its steps in it), and a command piped into ops counts from `ops`.
    expect(quotedOpsSteps('x.md', '## A\n1. `ops lock status`\n   ```sh\n   printf %s \'k|v\' | ops config set K --secret\n   ```\n2. then `ops status`\n').map(({ text, line, heading }) => ({ text, line, heading }))).toEqual([
      { text: 'ops lock status', line: 2, heading: 'A' },
      { text: 'ops config set K --secret', line: 4, heading: 'A' },
      { text: 'ops status', line: 6, heading: 'A' },
    ]);
  });

  it('include the scheduled-job commands with their job names', () => {
    const texts = quoted.map((q) => q.text);
    for (const job of ['retention', 'conversation-archive', 'orphan-uploads']) expect(texts).toContain(`ops jobs run ${job}`);
    expect(texts).toContain('ops jobs run retention --dry-run');
    // Fences indented inside numbered steps count too.
    expect(quotedOpsCommands('x.md', '1. Run:\n   ```sh\n   ops jobs list\n   ```\n')).toEqual([{ file: 'x.md', text: 'ops jobs list' }]);
    expect(resolveOpsCommand('ops jobs run retention orphan-uploads')).toEqual({ error: 'ops jobs run takes 1 argument(s): ops jobs run retention orphan-uploads' });
  });

  it('each exist, with their flags, in the checked-in list runbooks/catalog.ts', () => {
    expect(resolveOpsCommand('ops deploy --force')).toEqual({ error: 'ops deploy has no flag --force: ops deploy --force' });
    expect(resolveOpsCommand('ops restart')).toEqual({ error: 'unknown ops command: ops restart' });
    expect(resolveOpsCommand('ops status v3')).toEqual({ error: 'ops status takes 0 argument(s): ops status v3' });
    expect(resolveOpsCommand('ops rollback v3')).not.toHaveProperty('error'); // = --to v3 (Kamal/Heroku users type it)
    // A pipe ends the ops command; words before it still count.
    expect(resolveOpsCommand("ops logs --env production --since 24h | grep 'job failed'")).not.toHaveProperty('error');
    expect(resolveOpsCommand('ops logs extra | grep x')).toHaveProperty('error');
    const errors = quoted.map((q) => ({ q, r: resolveOpsCommand(q.text) })).flatMap(({ q, r }) => ('error' in r ? [`${q.file}: ${r.error}`] : []));
    expect(errors).toEqual([]);
  });

  it('each exist in the CLI registry (ops/cli/registry.ts), with the flags the registry or the command module declares', async () => {
    const problems: string[] = [];
    for (const spec of opsCommands) {
      const entry = registry.find((c) => c.path.join(' ') === spec.path.join(' '));
      if (!entry) {
        problems.push(`ops ${spec.path.join(' ')} is not in the registry`);
        continue;
      }
      // Commands whose module parses its own options (ops backup, ops restore) publish them as `specs`.
      const options = entry.options ?? (await entry.load()).specs?.[spec.path.join(' ')]?.options;
      if (!options) {
        problems.push(`ops ${spec.path.join(' ')} declares no options (registry or module specs)`);
        continue;
      }
      const declared = new Set(Object.entries(options).flatMap(([name, o]) => [`--${name}`, ...(o.short ? [`-${o.short}`] : [])]));
      for (const flag of Object.keys(spec.flags)) if (!declared.has(flag)) problems.push(`ops ${spec.path.join(' ')} does not declare ${flag}`);
    }
    expect(problems).toEqual([]);
  });
});

describe('PromQL in runbooks', () => {
  const registry = createMetrics({ version: 'test', instance: 'test' }).registry;
  let types: Map<string, string>;
  beforeAll(async () => {
    types = new Map((await registry.getMetricsAsJSON()).map((m) => [m.name, String(m.type)]));
  });
  const recorded = new Set(buildRuleGroups().flatMap((g) => g.rules.flatMap((r) => ('record' in r ? [r.record] : []))));
  const known = new Set<string>([...Object.values(metricNames), ...runtimeMetricNames, ...externalMetricNames, ...prometheusSyntheticMetrics, 'ALERTS']);

  it.each(pages)('%s reads only metrics that exist, counters through rate()/increase()', (page) => {
    const problems: string[] = [];
    for (const block of read(page).matchAll(/```promql\n([\s\S]*?)```/g)) {
      for (const ref of metricRefs(block[1] ?? '')) {
        const base = ref.name.replace(/_(bucket|sum|count)$/, '');
        const histogramSeries = base !== ref.name && types.get(base) === 'histogram';
        if (ref.name.includes(':')) {
          if (!recorded.has(ref.name)) problems.push(`${ref.name} is not a recording rule`);
        } else if (!known.has(histogramSeries ? base : ref.name)) problems.push(`${ref.name} is not exported (not in metric-names.ts or external-metrics.ts)`);
        if ((histogramSeries || types.get(ref.name) === 'counter') && !(['rate', 'increase', 'irate'].includes(ref.enclosing) && ref.range)) problems.push(`counter ${ref.name} read without rate()/increase()`);
        if (types.get(ref.name) === 'histogram') problems.push(`bare histogram ${ref.name} (use _bucket)`);
      }
    }
    expect(problems).toEqual([]);
  });
});

describe('maintenance-schedule.md (the calendar)', () => {
  const text = read('maintenance-schedule.md');
  const jobs = ['retention', 'conversation-archive', 'orphan-uploads'];
  const section = (title: string) => {
    const start = text.indexOf(`\n## ${title}`);
    const end = text.indexOf('\n## ', start + 1);
    return text.slice(start, end < 0 ? undefined : end);
  };
  const rows = (title: string) => section(title).split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| Task') && !/^\|\s*-/.test(l));

  it.each(['Weekly', 'Monthly', 'Quarterly'])('%s: every task names an existing alert, a real job (with how to see its last run), or ops commands that exist', (title) => {
    const tasks = rows(title);
    expect(tasks.length).toBeGreaterThanOrEqual(5);
    const problems: string[] = [];
    for (const row of tasks) {
      const cells = row.split(' | ');
      const linked = cells[cells.length - 1] ?? '';
      const alertsLinked = [...linked.matchAll(/\[(Switchboard\w+)\]\(\1\.md\)/g)].map((m) => m[1] as string);
      const jobsLinked = [...linked.matchAll(/job `([a-z-]+)`/g)].map((m) => m[1] as string);
      const commands = quotedOpsCommands('maintenance-schedule.md', row).map((q) => q.text);
      const unknownAlerts = alertsLinked.filter((a) => !alerts.includes(a));
      const unknownJobs = jobsLinked.filter((j) => !jobs.includes(j));
      const badCommands = commands.flatMap((c) => { const r = resolveOpsCommand(c); return 'error' in r ? [r.error] : []; });
      const ok = (alertsLinked.length > 0 && !unknownAlerts.length)
        || (jobsLinked.length > 0 && !unknownJobs.length && commands.some((c) => c.startsWith('ops jobs')))
        || (/procedure/.test(linked) && commands.length > 0);
      if (!ok || unknownAlerts.length || unknownJobs.length || badCommands.length) problems.push(`${row.slice(0, 60)}…: ${[...unknownAlerts.map((a) => `no alert ${a}`), ...unknownJobs.map((j) => `no job ${j}`), ...badCommands, ...(ok ? [] : ['links no alert, job or command'])].join('; ')}`);
    }
    expect(problems).toEqual([]);
  });

  it('monthly backup verification and the quarterly restore drill are ops commands whose result is recorded and exported as metrics', () => {
    const verification = rows('Monthly').find((r) => r.includes('Backup verification'))!;
    expect(verification).toContain('`ops backup verify --latest');
    expect(verification).toContain(backupMetricNames.lastVerifySuccess);
    const drill = rows('Quarterly').find((r) => r.includes('Restore drill'))!;
    expect(drill).toContain('`ops backup drill');
    expect(drill).toContain(backupMetricNames.lastDrillSuccess);
    expect(drill).toContain(backupMetricNames.lastDrillDuration);
  });
});

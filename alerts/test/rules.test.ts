import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { latencyBuckets } from '../../core/src/telemetry/metric-names';
import { dashboardUids } from '../../dashboards/uids';
import { alertsConfig } from '../config';
import { generatedDir, renderAll, rulesFile } from '../generate';
import { checkRules, testRules } from '../promtool';
import { alertTests } from '../rule-tests';
import { alertNames, buildRuleGroups, runbookUrl } from '../rules';
import { isAlertingRule, type AlertingRule, type RuleGroup } from '../types';

const committed = () => parse(fs.readFileSync(path.join(generatedDir, rulesFile), 'utf8')) as { groups: RuleGroup[] };
const alertingRules = (): AlertingRule[] => committed().groups.flatMap((g) => g.rules.filter(isAlertingRule));
const seconds = (d: string) => {
  const units: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
  const m = /^(\d+)([smhdw])$/.exec(d);
  if (!m) throw new Error(`unsupported duration ${d}`);
  return Number(m[1]) * (units[m[2] as string] as number);
};

describe('generated rules', () => {
  it('are current: alerts/generated matches what alerts/*.ts generate (run `npm run alerts:generate`)', () => {
    for (const [file, content] of Object.entries(renderAll())) {
      expect({ file, content: fs.readFileSync(path.join(generatedDir, file), 'utf8') }).toEqual({ file, content });
    }
  });

  it('pass `promtool check rules`', () => {
    const result = checkRules();
    expect(result.output).toContain('SUCCESS');
    expect(result.ok).toBe(true);
  });

  it('pass `promtool test rules` (every scenario in alerts/rule-tests.ts)', () => {
    const result = testRules();
    if (!result.ok) throw new Error(result.output);
    expect(result.output).toContain('SUCCESS');
  });
});

describe('promtool scenarios', () => {
  it.each(alertNames())('%s has a scenario where it fires and one where it stays silent', (alert) => {
    const scenarios = alertTests.filter((t) => t.alert === alert).flatMap((t) => t.scenarios);
    expect(scenarios.some((s) => s.expect.length > 0)).toBe(true);
    expect(scenarios.some((s) => s.expect.length === 0)).toBe(true);
  });

  it.each(['page', 'ticket'])('every alert that has a %s rule has a scenario firing it', (severity) => {
    for (const rule of alertingRules().filter((r) => r.labels.severity === severity)) {
      const fired = alertTests.filter((t) => t.alert === rule.alert).flatMap((t) => t.scenarios).some((s) => s.expect.some((l) => l.severity === severity));
      expect({ alert: rule.alert, severity, fired }).toEqual({ alert: rule.alert, severity, fired: true });
    }
  });

  it('only test alerts that exist', () => {
    expect(alertTests.map((t) => t.alert).filter((a) => !alertNames().includes(a))).toEqual([]);
  });
});

describe('every alert', () => {
  const uids: string[] = Object.values(dashboardUids);

  it.each(alertingRules().map((r) => [`${r.alert} (${r.labels.severity})`, r] as const))('%s has severity, summary, description, runbook_url and dashboard', (_name, rule) => {
    expect(['page', 'ticket']).toContain(rule.labels.severity);
    expect(rule.annotations.summary.length).toBeGreaterThan(10);
    expect(rule.annotations.description.length).toBeGreaterThan(20);
    expect(rule.annotations.runbook_url).toBe(runbookUrl(rule.alert));
    expect(rule.annotations.runbook_url).toMatch(new RegExp(`(^|/)runbooks/${rule.alert}\\.md$`));
    const uid = /\/d\/([^/?]+)/.exec(rule.annotations.dashboard)?.[1];
    expect(uids).toContain(uid);
  });

  it('ships real `for:` durations (at least 1m); short ones only exist through the test override', () => {
    for (const rule of alertingRules()) expect({ alert: rule.alert, long: seconds(rule.for) >= 60 }).toEqual({ alert: rule.alert, long: true });
    const overridden = buildRuleGroups({ forOverride: '5s' }).flatMap((g) => g.rules.filter(isAlertingRule));
    expect(overridden.every((r) => r.for === '5s')).toBe(true);
  });

  it('is named Switchboard<Symptom> in PascalCase', () => {
    for (const name of alertNames()) expect(name).toMatch(/^Switchboard[A-Z][A-Za-z]+$/);
  });
});

describe('SLO configuration', () => {
  it('uses the burn rates and windows of the SRE workbook over a 30-day period', () => {
    expect(alertsConfig.slo.periodDays).toBe(30);
    const windows = alertsConfig.slo.burnRateAlerts.flatMap((t) => t.windows.map((w) => `${t.severity} ${w.long}/${w.short} ${w.burnRate}`));
    expect(windows).toEqual(['page 1h/5m 14.4', 'page 6h/30m 6', 'ticket 1d/2h 3', 'ticket 3d/6h 1']);
  });

  it('puts every latency threshold on a histogram bucket edge', () => {
    expect(latencyBuckets).toContain(alertsConfig.slo.apiLatency.thresholdSeconds);
    expect(latencyBuckets).toContain(alertsConfig.slo.messageDelivery.thresholdSeconds);
  });
});

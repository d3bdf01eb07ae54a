import { buildRuleGroups } from '../rules';
import { forBound, lintRules } from '../lint';
import { isAlertingRule, type AlertingRule, type RuleGroup } from '../types';

/** The rules lint (alerts/lint.ts) passes on the shipped rules and catches each kind of omission. */
const shipped = buildRuleGroups();

it('the shipped rules pass: severity, summary, description, runbook_url, dashboard, for: within the SLO windows', () => {
  expect(lintRules(shipped)).toEqual([]);
});

it('prints each alert\'s for: against its bound', () => {
  const rows = shipped.flatMap((g) => g.rules.filter(isAlertingRule).map((r) => {
    const bound = forBound(r, g.name === 'switchboard-slo-alerts');
    return `| ${r.alert} | ${r.labels.severity} | ${r.for} | ≤ ${bound.maxSeconds} s (${bound.why}) |`;
  }));
  console.log(['| alert | severity | for | bound |', '| --- | --- | --- | --- |', ...rows].join('\n'));
  expect(rows.length).toBeGreaterThan(15);
});

describe('fails when something is missing or out of bounds', () => {
  const symptoms = shipped.find((g) => g.name === 'switchboard-symptom-alerts')!;
  const slo = shipped.find((g) => g.name === 'switchboard-slo-alerts')!;
  const first = (g: RuleGroup, alert?: string) => g.rules.filter(isAlertingRule).find((r) => !alert || r.alert === alert)!;
  const lintOne = (group: RuleGroup, rule: AlertingRule) => lintRules([{ ...group, rules: [rule] }]).map((p) => p.code);
  const base = first(symptoms, 'SwitchboardMongoDBUnreachable');
  const without = (key: keyof AlertingRule['annotations']) => {
    const annotations = { ...base.annotations } as Partial<AlertingRule['annotations']>;
    delete annotations[key];
    return { ...base, annotations } as AlertingRule;
  };

  it.each([
    ['no-severity', { ...base, labels: { service: 'switchboard' } }],
    ['no-severity', { ...base, labels: { ...base.labels, severity: 'critical' } }],
    ['no-summary', without('summary')],
    ['no-description', without('description')],
    ['no-runbook-url', without('runbook_url')],
    ['no-runbook-url', { ...base, annotations: { ...base.annotations, runbook_url: 'https://wiki.example.com/switchboard' } }],
    ['no-dashboard', without('dashboard')],
    ['no-dashboard', { ...base, annotations: { ...base.annotations, dashboard: 'http://grafana.example.com/' } }],
    ['for-too-short', { ...base, for: '30s' }],
    ['bad-for', { ...base, for: 'soon' }],
    // An outage page (maintenance announces it) waits at most the fast page tier's short window (5m).
    ['for-too-long', { ...base, for: '10m' }],
  ] as const)('%s', (code, rule) => {
    expect(lintOne(symptoms, rule as AlertingRule)).toEqual([code]);
  });

  it('bounds each kind of alert by its own window', () => {
    const pageBurn = slo.rules.filter(isAlertingRule).find((r) => r.labels.severity === 'page')!;
    const ticketBurn = slo.rules.filter(isAlertingRule).find((r) => r.labels.severity === 'ticket')!;
    expect(lintOne(slo, { ...pageBurn, for: '5m' })).toEqual([]);
    expect(lintOne(slo, { ...pageBurn, for: '6m' })).toEqual(['for-too-long']);
    expect(lintOne(slo, { ...ticketBurn, for: '2h' })).toEqual([]);
    expect(lintOne(slo, { ...ticketBurn, for: '3h' })).toEqual(['for-too-long']);
    const certPage = symptoms.rules.filter(isAlertingRule).find((r) => r.alert === 'SwitchboardCertificateExpiring' && r.labels.severity === 'page')!;
    expect(lintOne(symptoms, { ...first(symptoms, 'SwitchboardCoreAbsent'), for: '6m' })).toEqual(['for-too-long']);
    expect(lintOne(symptoms, { ...certPage, for: '1h' })).toEqual([]);
    expect(lintOne(symptoms, { ...certPage, for: '2h' })).toEqual(['for-too-long']);
    const ticket = first(symptoms, 'SwitchboardJobStale');
    expect(lintOne(symptoms, { ...ticket, for: '2h' })).toEqual([]);
    expect(lintOne(symptoms, { ...ticket, for: '3h' })).toEqual(['for-too-long']);
  });
});

import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { generatedDir as dashboardsDir } from '../../dashboards/generate';
import type { Dashboard, Panel } from '../../dashboards/grafana';
import { generatedDir as alertsDir, rulesFile } from '../generate';
import { metricRefs, variableQueryRefs, type MetricRef } from '../promql-refs';
import type { RuleGroup } from '../types';

export interface Expression {
  where: string;
  expr: string;
  refs: MetricRef[];
}

export const committedRules = () => (parse(fs.readFileSync(path.join(alertsDir, rulesFile), 'utf8')) as { groups: RuleGroup[] }).groups;

export const committedDashboards = (): Dashboard[] =>
  fs.readdirSync(dashboardsDir).filter((f) => f.endsWith('.json')).sort().map((f) => JSON.parse(fs.readFileSync(path.join(dashboardsDir, f), 'utf8')) as Dashboard);

const allPanels = (panels: Panel[]): Panel[] => panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);

/** Every PromQL expression we ship: rules, panel targets, annotation queries and variable queries. */
export function shippedExpressions(): Expression[] {
  const out: Expression[] = [];
  for (const group of committedRules()) {
    for (const rule of group.rules) out.push({ where: `rule ${'alert' in rule ? rule.alert : rule.record}`, expr: rule.expr, refs: metricRefs(rule.expr) });
  }
  for (const d of committedDashboards()) {
    for (const p of allPanels(d.panels)) for (const t of p.targets ?? []) out.push({ where: `dashboard ${d.uid} panel "${p.title}"`, expr: t.expr, refs: metricRefs(t.expr) });
    for (const a of d.annotations.list) if (a.expr) out.push({ where: `dashboard ${d.uid} annotation "${a.name}"`, expr: a.expr, refs: metricRefs(a.expr) });
    for (const v of d.templating.list) {
      if (v.type !== 'query') continue;
      const query = typeof v.query === 'string' ? v.query : v.query.query;
      out.push({ where: `dashboard ${d.uid} variable $${v.name}`, expr: query, refs: variableQueryRefs(query) });
    }
  }
  return out;
}

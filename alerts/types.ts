import type { DashboardKey } from '../dashboards/uids';
import type { Severity } from './config';

export interface RecordingRule {
  record: string;
  expr: string;
}

/** An alert as written in alerts/*-rules.ts; `withLinks` turns it into a Prometheus rule. */
export interface AlertDefinition {
  alert: string;
  expr: string;
  for: string;
  severity: Severity;
  summary: string;
  description: string;
  /** Dashboard the on-call engineer opens first. */
  dashboard: DashboardKey;
  labels?: Record<string, string>;
}

export interface AlertingRule {
  alert: string;
  expr: string;
  for: string;
  labels: Record<string, string>;
  annotations: { summary: string; description: string; runbook_url: string; dashboard: string };
}

export type Rule = RecordingRule | AlertingRule;

export interface RuleGroup {
  name: string;
  interval?: string;
  rules: Rule[];
}

export const isAlertingRule = (rule: Rule): rule is AlertingRule => 'alert' in rule;

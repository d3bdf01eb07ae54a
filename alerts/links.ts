import fs from 'node:fs';
import path from 'node:path';
import { dashboardUids } from '../dashboards/uids';

/**
 * Where an alert's `runbook_url` and `dashboard` annotations point. Per environment, never a
 * placeholder: clusters take them from their stack config (`switchboard:observability` in
 * infra/Pulumi.<env>.yaml), local renders from `localLinks`.
 */
export interface LinkSettings {
  /** `${runbookBaseUrl}/<AlertName>.md` must be the file runbooks/<AlertName>.md. */
  runbookBaseUrl: string;
  /** Grafana the dashboards are provisioned into: `${grafanaUrl}/d/<uid>`. */
  grafanaUrl: string;
}

export const repoRoot = path.resolve(__dirname, '..');
export const runbooksDir = path.join(repoRoot, 'runbooks');
export const generatedDashboardsDir = path.join(repoRoot, 'dashboards', 'generated');

/**
 * Local (`ops --env local`, the drill, the committed rules file): the runbooks as a path relative to
 * the repository and the Grafana of `ops services` (dashboards/generated provisioned into it).
 */
export const localLinks: LinkSettings = { runbookBaseUrl: 'runbooks', grafanaUrl: 'http://localhost:3000' };

const strip = (url: string) => url.replace(/\/+$/, '');
export const runbookUrl = (links: LinkSettings, alert: string) => `${strip(links.runbookBaseUrl)}/${alert}.md`;
export const dashboardUrl = (links: LinkSettings, uid: string) => `${strip(links.grafanaUrl)}/d/${uid}`;

/** Bases that were once shipped as placeholders: a render that still uses one is not deployable. */
const placeholderBases = [/github\.com\/switchboard\/switchboard\b/, /\bexample\.invalid\b/];

export type LinkProblemCode = 'not-https' | 'localhost' | 'placeholder' | 'no-runbook-file' | 'unknown-dashboard' | 'bad-base';
export interface LinkProblem {
  alert: string;
  code: LinkProblemCode;
  link: string;
}

/**
 * pint `rule/link` style check of rendered alerts: every runbook_url is base + a file that exists
 * in runbooks/, every dashboard link is grafana + the uid of a generated dashboard. A `production`
 * render also refuses localhost, plain http and the old placeholder bases (`strict`).
 */
export function checkLinks(
  alerts: { alert: string; annotations: { runbook_url: string; dashboard: string } }[],
  links: LinkSettings,
  options: { strict: boolean },
): LinkProblem[] {
  const problems: LinkProblem[] = [];
  const generatedUids = new Set(
    fs.existsSync(generatedDashboardsDir)
      ? fs.readdirSync(generatedDashboardsDir).filter((f) => f.endsWith('.json')).map((f) => (JSON.parse(fs.readFileSync(path.join(generatedDashboardsDir, f), 'utf8')) as { uid?: string }).uid)
      : [],
  );
  const knownUids = new Set<string>(Object.values(dashboardUids).filter((uid) => generatedUids.has(uid)));
  const hostProblems = (alert: string, link: string) => {
    if (!options.strict) return;
    let url: URL;
    try {
      url = new URL(link);
    } catch {
      problems.push({ alert, code: 'bad-base', link });
      return;
    }
    if (url.protocol !== 'https:') problems.push({ alert, code: 'not-https', link });
    if (['localhost', '127.0.0.1', '[::1]', '0.0.0.0'].includes(url.hostname) || url.hostname.endsWith('.localhost')) problems.push({ alert, code: 'localhost', link });
    if (placeholderBases.some((p) => p.test(link))) problems.push({ alert, code: 'placeholder', link });
  };
  for (const { alert, annotations } of alerts) {
    const runbook = annotations.runbook_url;
    hostProblems(alert, runbook);
    const base = `${strip(links.runbookBaseUrl)}/`;
    const file = runbook.startsWith(base) ? runbook.slice(base.length) : undefined;
    if (!file || file.includes('/') || !fs.existsSync(path.join(runbooksDir, file))) problems.push({ alert, code: 'no-runbook-file', link: runbook });
    const dashboard = annotations.dashboard;
    hostProblems(alert, dashboard);
    const prefix = `${strip(links.grafanaUrl)}/d/`;
    const uid = dashboard.startsWith(prefix) ? dashboard.slice(prefix.length).split(/[/?#]/)[0] : undefined;
    if (!uid || !knownUids.has(uid)) problems.push({ alert, code: 'unknown-dashboard', link: dashboard });
  }
  return problems;
}

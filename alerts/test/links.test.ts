import { stackConfigFromFile } from '../../infra/render';
import { environments } from '../../infra/src/config';
import { checkLinks, localLinks, type LinkSettings } from '../links';
import { buildRuleGroups } from '../rules';
import { isAlertingRule } from '../types';

/**
 * pint `rule/link` style: every runbook_url of a render points at a file in runbooks/, every
 * dashboard link at the uid of a generated dashboard; a cluster render (links from the stack's
 * switchboard:observability) also has no localhost, no plain http and no placeholder base.
 */
const alertsWith = (links: LinkSettings) => buildRuleGroups({ links }).flatMap((g) => g.rules.filter(isAlertingRule));

describe.each(environments)('%s render (links from infra/Pulumi.<env>.yaml)', (environment) => {
  const links = stackConfigFromFile(environment).observability;

  it('every link resolves, over https, to a configured non-placeholder base', () => {
    const alerts = alertsWith(links);
    expect(alerts.length).toBeGreaterThan(15);
    expect(checkLinks(alerts, links, { strict: true })).toEqual([]);
    expect(alerts[0]!.annotations.runbook_url.startsWith(links.runbookBaseUrl)).toBe(true);
  });
});

it('the local render (committed rules file) resolves: runbooks/<Alert>.md exists, dashboards are generated', () => {
  expect(checkLinks(alertsWith(localLinks), localLinks, { strict: false })).toEqual([]);
});

it('the check fails on localhost, plain http, placeholders, missing runbooks and unknown dashboards', () => {
  const codes = (links: LinkSettings, alerts: Parameters<typeof checkLinks>[0] = alertsWith(links).slice(0, 1)) => [...new Set(checkLinks(alerts, links, { strict: true }).map((p) => p.code))].sort();
  // The local runbook path is a repository path, not a URL; the local Grafana is on localhost over http.
  expect(codes(localLinks)).toEqual(['bad-base', 'localhost', 'not-https']);
  expect(codes({ runbookBaseUrl: 'https://github.com/switchboard/switchboard/blob/main/runbooks', grafanaUrl: 'https://grafana.example.com' })).toEqual(['placeholder']);
  const links = { runbookBaseUrl: 'https://git.example.com/runbooks', grafanaUrl: 'https://grafana.example.com' };
  const alert = { alert: 'SwitchboardNoSuchAlert', annotations: { runbook_url: `${links.runbookBaseUrl}/SwitchboardNoSuchAlert.md`, dashboard: `${links.grafanaUrl}/d/no-such-uid` } };
  expect(codes(links, [alert])).toEqual(['no-runbook-file', 'unknown-dashboard']);
});

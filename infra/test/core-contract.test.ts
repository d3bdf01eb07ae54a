import { stackConfig, allEnvironments } from './helpers/stacks';
import { stackManifests } from '../render';
import { placeholderProvisioned } from '../src/stack';
import { contractViolations } from '../src/k8s/core-contract';
import type { Manifest } from '../src/k8s/types';

describe.each(allEnvironments)('%s: the pod environment the stack renders keeps the infra ↔ core contract', (environment) => {
  const config = stackConfig(environment);
  const manifests = stackManifests(environment, { ruleGroups: [], dashboards: [] });

  test('passes the core’s loadConfig, and every provisioned or configured feature is on', () => {
    expect(contractViolations(manifests, config, placeholderProvisioned(config))).toEqual([]);
  });
});

describe('the contract check fails when a provisioned feature does not reach the pod', () => {
  const config = stackConfig('production');
  const provisioned = placeholderProvisioned(config);
  const fresh = () => structuredClone(stackManifests('production', { ruleGroups: [], dashboards: [] })) as Manifest[];
  const configMap = (m: Manifest[]) => m.find((x) => x.kind === 'ConfigMap' && x.metadata.name === 'switchboard-config') as Manifest & { data: Record<string, string> };

  test('the media bucket missing from the ConfigMap: attachments would answer 503', () => {
    const m = fresh();
    delete configMap(m).data.S3_BUCKET;
    expect(contractViolations(m, config, provisioned)).toEqual([expect.stringContaining('S3_BUCKET')]);
  });

  test('the webhook, the retention setting missing or wrong', () => {
    const m = fresh();
    delete configMap(m).data.NOTIFICATION_WEBHOOK_URL;
    configMap(m).data.MESSAGE_RETENTION_DAYS = '0';
    const problems = contractViolations(m, config, provisioned);
    expect(problems).toEqual(expect.arrayContaining([expect.stringContaining('NOTIFICATION_WEBHOOK_URL'), expect.stringContaining('MESSAGE_RETENTION_DAYS')]));
  });

  test('a public CDN base URL for attachments (removed with issue 21) fails the core\'s loadConfig', () => {
    const m = fresh();
    configMap(m).data.ATTACHMENT_CDN_BASE_URL = 'https://media.chat.example.com';
    expect(contractViolations(m, config, provisioned)).toEqual([expect.stringContaining('ATTACHMENT_CDN_BASE_URL is no longer supported')]);
  });

  test('no backup CronJob for the backup bucket, and a ServiceAccount without its role', () => {
    const m = fresh().filter((x) => !(x.kind === 'CronJob' && x.metadata.name === 'switchboard-backup'));
    const sa = m.find((x) => x.kind === 'ServiceAccount' && x.metadata.name === 'switchboard-core')!;
    sa.metadata.annotations = {};
    const problems = contractViolations(m, config, provisioned);
    expect(problems).toEqual(expect.arrayContaining([expect.stringContaining('scheduled backup: no CronJob'), expect.stringContaining('core ServiceAccount IAM role')]));
  });

  test('an environment the core refuses is reported with the core’s own message', () => {
    const m = fresh();
    configMap(m).data.ATTACHMENT_MAX_BYTES = 'lots';
    expect(contractViolations(m, config, provisioned)).toEqual([expect.stringMatching(/loadConfig.*ATTACHMENT_MAX_BYTES/s)]);
  });
});

import type * as pulumi from '@pulumi/pulumi';
import { localLinks, type LinkSettings } from '../../../alerts/links';
import { alertmanagerConfigSpec, receiverSecretKeys } from '../../../alerts/routing';
import type { RuleGroup } from './observability';

/** Receiver secrets of the stack's AlertmanagerConfig (Pulumi config secrets alertPagerdutyRoutingKey, alertSlackWebhookUrl). */
export interface AlertReceiverSecrets {
  pagerdutyRoutingKey: pulumi.Input<string>;
  slackWebhookUrl: pulumi.Input<string>;
}

export const receiverSecretName = 'switchboard-alert-receivers';

/** The routing of alerts/routing.ts as a prometheus-operator AlertmanagerConfig and the Secret its receivers read. */
export function alertingManifests(options: { namespace: string; labels: Record<string, string>; receivers: AlertReceiverSecrets }) {
  const metadata = (name: string) => ({ name, namespace: options.namespace, labels: options.labels });
  return [
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: metadata(receiverSecretName),
      type: 'Opaque',
      stringData: { [receiverSecretKeys.pagerdutyRoutingKey]: options.receivers.pagerdutyRoutingKey, [receiverSecretKeys.slackWebhookUrl]: options.receivers.slackWebhookUrl },
    },
    { apiVersion: 'monitoring.coreos.com/v1alpha1', kind: 'AlertmanagerConfig', metadata: metadata('switchboard-routing'), spec: alertmanagerConfigSpec(receiverSecretName) },
  ];
}

/**
 * The committed rules carry the local link bases (alerts/links.ts localLinks); a stack's PrometheusRule
 * carries its own (switchboard:observability), so runbook_url and dashboard links resolve there.
 */
export function relinkRuleGroups(groups: RuleGroup[], links: LinkSettings): RuleGroup[] {
  const swap = (value: unknown, from: string, to: string) => (typeof value === 'string' && value.startsWith(`${from}/`) ? `${to.replace(/\/+$/, '')}${value.slice(from.length)}` : value);
  return groups.map((g) => ({
    ...g,
    rules: g.rules.map((r) => {
      const annotations = r.annotations as Record<string, unknown> | undefined;
      if (!annotations) return r;
      return { ...r, annotations: { ...annotations, runbook_url: swap(annotations.runbook_url, localLinks.runbookBaseUrl, links.runbookBaseUrl), dashboard: swap(annotations.dashboard, localLinks.grafanaUrl, links.grafanaUrl) } };
    }),
  }));
}

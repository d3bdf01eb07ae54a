import { configChangeAllowed } from './stack-config';
import type { ResourceChange } from './stack-runner';

/**
 * What an image bump may change (infra/src/k8s/app-manifests.ts): the Deployment's container image,
 * and RELEASE_VERSION in the core's ConfigMap (which Pulumi may replace rather than update). Anything
 * else in a preview is drift (someone's unapplied config change, or a provider upgrade) that a deploy
 * must not apply silently.
 */
const imagePaths: { type: RegExp; path: RegExp }[] = [
  { type: /^kubernetes:apps\/v1:Deployment$/, path: /^spec\.template\.spec\.containers\[\d+\]\.image$/ },
  { type: /^kubernetes:core\/v1:ConfigMap$/, path: /^data(\.RELEASE_VERSION|\["RELEASE_VERSION"\])$/ },
  // The backup and verify CronJobs run the core's image too (infra/src/k8s/backup-manifests.ts): seen by the real engine (issue 25).
  { type: /^kubernetes:batch\/v1:CronJob$/, path: /^spec\.jobTemplate\.spec\.template\.spec\.containers\[\d+\]\.image$/ },
];

/**
 * Pulumi step ops that change nothing, or that are judged through another step of the same resource:
 * a replacement shows as `replace` + `create-replacement` (with the diff's paths) + `delete-replaced`
 * (no paths); the real engine emits all three for the ConfigMap's RELEASE_VERSION (issue 25).
 */
const noChange = new Set(['same', 'read', 'refresh', 'delete-replaced']);

/** The changes of a preview that are not the image bump itself. */
export function driftOf(changes: ResourceChange[], changedSettings: string[] = []): ResourceChange[] {
  // A release's own settings (ops config) are desired state: their ConfigMap/Secret keys and the pod
  // template's config checksum (which also follows RELEASE_VERSION) are not drift.
  const configAllows = configChangeAllowed(changedSettings);
  return changes.filter((change) => {
    if (noChange.has(change.op)) return false;
    const rules = imagePaths.filter((r) => r.type.test(change.type));
    if (!change.paths.length) return true;
    return !change.paths.every((p) => rules.some((r) => r.path.test(p)) || configAllows(change, p));
  });
}

export const describeChange = (c: ResourceChange): string => `${c.op.padEnd(8)} ${c.type} ${c.urn.split('::').pop()}${c.paths.length ? `: ${c.paths.join(', ')}` : ''}`;

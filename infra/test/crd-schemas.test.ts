import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { crdDir, requireKubeTool } from '../../ops/services/kube-toolchain';
import { stackManifests } from '../render';
import { loadObservability } from '../src/stack';
import type { Manifest } from '../src/k8s/types';
import { allEnvironments } from './helpers/stacks';

/**
 * Every rendered object of a custom kind (AlertmanagerConfig, PrometheusRule, ServiceMonitor, cert-manager's)
 * declares only fields its CRD's schema has, at the pinned operator versions (the CRDs the local cluster
 * installs, ops/services/kube-toolchain.ts). The API server refuses an undeclared field under server-side
 * apply ("field not declared in schema"): AlertmanagerConfig's PagerDuty `links` (alertmanager.yml's name;
 * the CRD's is pagerDutyLinkConfigs) was found that way by the slow e2e test; this finds it in a second.
 */
interface Schema { type?: string; properties?: Record<string, Schema>; items?: Schema; additionalProperties?: Schema | boolean; 'x-kubernetes-preserve-unknown-fields'?: boolean; 'x-kubernetes-int-or-string'?: boolean }
interface Crd { spec: { group: string; names: { kind: string }; versions: { name: string; schema: { openAPIV3Schema: Schema } }[] } }

const schemas = new Map<string, Schema>();
for (const file of fs.readdirSync(requireKubeTool(crdDir(), 'the pinned CRDs'))) {
  const crd = YAML.parse(fs.readFileSync(path.join(crdDir(), file), 'utf8')) as Crd;
  for (const version of crd.spec.versions) schemas.set(`${crd.spec.group}/${version.name} ${crd.spec.names.kind}`, version.schema.openAPIV3Schema);
}

/** Paths of the value's fields the schema does not declare. */
function undeclared(value: unknown, schema: Schema, at = ''): string[] {
  if (schema['x-kubernetes-preserve-unknown-fields'] || value === null || typeof value !== 'object') return [];
  if (Array.isArray(value)) return schema.items ? value.flatMap((v, i) => undeclared(v, schema.items!, `${at}[${i}]`)) : [];
  return Object.entries(value as Record<string, unknown>).flatMap(([key, v]) => {
    const declared = schema.properties?.[key] ?? (typeof schema.additionalProperties === 'object' ? schema.additionalProperties : schema.additionalProperties === true ? {} : undefined);
    return declared ? undeclared(v, declared, `${at}.${key}`) : [`${at}.${key}`];
  });
}

const observability = loadObservability();
const custom = (manifests: Manifest[]) => manifests.filter((m) => schemas.has(`${m.apiVersion} ${m.kind}`));
/** The object's spec against the CRD (metadata is the API server's ObjectMeta, not in the CRD's schema). */
const specProblems = (m: Pick<Manifest, 'apiVersion' | 'kind'> & { spec?: unknown }) => undeclared(m.spec, schemas.get(`${m.apiVersion} ${m.kind}`)!.properties?.spec ?? {}, '.spec');

test.each(allEnvironments)('%s: every object of a custom kind has only fields its CRD declares', (environment) => {
  const objects = custom(stackManifests(environment, observability));
  expect(objects.map((m) => m.kind)).toEqual(expect.arrayContaining(['AlertmanagerConfig', 'PrometheusRule']));
  const problems = objects.flatMap((m) => specProblems(m).map((p) => `${m.kind} ${m.metadata.name}: ${p}`));
  expect(problems).toEqual([]);
});

test('the check catches alertmanager.yml field names in an AlertmanagerConfig', () => {
  const spec = { receivers: [{ name: 'pager', pagerdutyConfigs: [{ sendResolved: true, links: [{ href: 'https://x', text: 'Runbook' }] }] }] };
  expect(specProblems({ apiVersion: 'monitoring.coreos.com/v1alpha1', kind: 'AlertmanagerConfig', spec })).toEqual(['.spec.receivers[0].pagerdutyConfigs[0].links']);
});

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { requirePythonTool } from '../../ops/services/python-tools';
import { describeConfig } from '../../core/src/config';
import { stackManifests } from '../render';
import { renderYaml } from '../src/k8s/render';
import { loadObservability } from '../src/stack';
import { checkLinks } from '../../alerts/links';
import { alertmanagerConfigSpec } from '../../alerts/routing';
import { receiverSecretName, relinkRuleGroups } from '../src/k8s/alerting';
import { policyContext } from '../policy/context';
import type { Manifest } from '../src/k8s/types';
import { checkStack, manifestsAsRendered } from './helpers/policy';
import { allEnvironments, stackConfig } from './helpers/stacks';

const observability = loadObservability();
const rendered = new Map(allEnvironments.map((environment) => [environment, stackManifests(environment, observability)] as const));
const builtInKinds = ['Namespace', 'ServiceAccount', 'ConfigMap', 'Secret', 'Deployment', 'Service', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'NetworkPolicy', 'CronJob'];

/** A Deployment that breaks the schema (kubernetes-validate) and the hardening checks (checkov). */
const badDeployment = `apiVersion: apps/v1
kind: Deployment
metadata: { name: bad, namespace: default }
spec:
  replicas: two
  selector: { matchLabels: { app: bad } }
  template:
    metadata: { labels: { app: bad } }
    spec:
      hostNetwork: true
      containers:
        - name: bad
          image: example/bad:latest
          securityContext: { privileged: true }
`;

let dir = '';
let kubernetesValidate = '';
let checkov = '';
beforeAll(() => {
  // Installed once per machine into .venv/ (pinned); a first install can take minutes.
  kubernetesValidate = requirePythonTool('kubernetes-validate');
  checkov = requirePythonTool('checkov');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-infra-'));
  for (const [environment, manifests] of rendered) fs.writeFileSync(path.join(dir, `${environment}.yaml`), renderYaml(manifests));
  fs.writeFileSync(path.join(dir, 'bad.yaml'), badDeployment);
}, 900_000);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const kinds = (manifests: Manifest[]) => manifests.map((m) => m.kind);

describe('rendered Kubernetes objects', () => {
  test.each(allEnvironments)('%s: one document per object, parseable back into the same objects', (environment) => {
    const manifests = rendered.get(environment) ?? [];
    const documents = YAML.parseAllDocuments(fs.readFileSync(path.join(dir, `${environment}.yaml`), 'utf8')).map((d) => d.toJS());
    expect(documents).toEqual(JSON.parse(JSON.stringify(manifests)));
    for (const kind of [...builtInKinds, 'ServiceMonitor', 'VirtualServer', 'Policy', 'ClusterIssuer', 'Certificate']) expect(kinds(manifests)).toContain(kind);
  });

  test.each(allEnvironments)('%s: the policy pack holds for the rendered objects too', async (environment) => {
    expect((await checkStack(manifestsAsRendered(rendered.get(environment) ?? []), policyContext(stackConfig(environment)))).violations).toEqual([]);
  });

  test('alerts/ rules become one PrometheusRule and dashboards/ JSON become labelled ConfigMaps (when present)', () => {
    const manifests = rendered.get('production') ?? [];
    const rules = manifests.filter((m) => m.kind === 'PrometheusRule');
    expect(rules).toHaveLength(observability.ruleGroups.length > 0 ? 1 : 0);
    if (rules[0]) expect((rules[0].spec as { groups: unknown[] }).groups).toEqual(relinkRuleGroups(observability.ruleGroups, stackConfig('production').observability));
    // Production links resolve (pint rule/link style): https, the stack's bases, existing runbooks and dashboard uids.
    const alerts = ((rules[0]?.spec as { groups: { rules: Record<string, unknown>[] }[] } | undefined)?.groups ?? []).flatMap((g) => g.rules.filter((r) => 'alert' in r)) as unknown as Parameters<typeof checkLinks>[0];
    expect(checkLinks(alerts, stackConfig('production').observability, { strict: true })).toEqual([]);
    // The routing of alerts/routing.ts as an AlertmanagerConfig; its receivers read a Secret (placeholders here, Pulumi config secrets in the stack).
    const routing = manifests.filter((m) => m.kind === 'AlertmanagerConfig');
    expect(routing.map((m) => m.spec)).toEqual(rules[0] ? [alertmanagerConfigSpec(receiverSecretName)] : []);
    const receiverSecret = manifests.find((m) => m.kind === 'Secret' && m.metadata.name === receiverSecretName) as { stringData?: Record<string, string> } | undefined;
    if (rules[0]) expect(Object.values(receiverSecret?.stringData ?? {}).every((v) => v.includes('REDACTED'))).toBe(true);
    const dashboards = manifests.filter((m) => m.metadata.labels?.grafana_dashboard === '1');
    expect(dashboards.map((d) => d.metadata.name).sort()).toEqual(observability.dashboards.map((d) => `switchboard-dashboard-${d.slug}`).sort());
  });

  test('every variable the core is given is one the core documents; secrets only in the Secret', () => {
    const documented = new Set([...describeConfig().matchAll(/^\| `([A-Z0-9_]+)`/gm)].map((m) => m[1]));
    const manifests = rendered.get('production') ?? [];
    const configMap = manifests.find((m) => m.metadata.name === 'switchboard-config') as { data: Record<string, string> } | undefined;
    const secret = manifests.find((m) => m.kind === 'Secret') as { stringData: Record<string, string> } | undefined;
    const given = [...Object.keys(configMap?.data ?? {}), ...Object.keys(secret?.stringData ?? {}), 'INSTANCE_ID'];
    expect(given.filter((name) => !documented.has(name))).toEqual([]);
    expect(Object.keys(secret?.stringData ?? {}).every((key) => ['MONGODB_URI', 'REDIS_URL', 'JWT_HS256_KEYS', 'SENTRY_DSN', 'NOTIFICATION_WEBHOOK_SECRET'].includes(key))).toBe(true);
  });

  test('kubernetes-validate (strict, offline schemas) accepts every built-in object and rejects the bad one', () => {
    const files = [...allEnvironments.map((e) => path.join(dir, `${e}.yaml`)), path.join(dir, 'bad.yaml')];
    const run = spawnSync(kubernetesValidate, ['--strict', ...files], { encoding: 'utf8' });
    const lines = `${run.stdout}\n${run.stderr}`.split('\n').filter(Boolean);
    const errors = lines.filter((line) => line.startsWith('ERROR'));
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.filter((line) => !line.includes('bad.yaml'))).toEqual([]);
    expect(run.status).not.toBe(0);
    for (const environment of allEnvironments) {
      const passed = lines.filter((line) => line.startsWith('INFO') && line.includes(`${environment}.yaml passed`));
      const builtIn = (rendered.get(environment) ?? []).filter((m) => builtInKinds.includes(m.kind));
      expect(passed).toHaveLength(builtIn.length);
    }
    // Only the CRDs (no schema offline) may be skipped.
    const skipped = lines.filter((line) => line.startsWith('WARN')).map((line) => /kind (\w+)/.exec(line)?.[1]);
    expect(new Set(skipped)).toEqual(new Set(['ServiceMonitor', 'PrometheusRule', 'AlertmanagerConfig', 'VirtualServer', 'Policy', 'ClusterIssuer', 'Certificate'].filter((k) => kinds(rendered.get('production') ?? []).includes(k))));
  });

  test('checkov (Kubernetes checks, one run over all rendered YAML) passes ours and fails the bad one', () => {
    const run = spawnSync(checkov, ['-d', dir, '--framework', 'kubernetes', '--quiet', '--compact', '--skip-download', '-o', 'json'], {
      encoding: 'utf8',
      env: { ...process.env, BC_SKIP_MAPPING: 'TRUE', CHECKOV_NO_OUTPUT_COLOR: 'TRUE' },
      maxBuffer: 64 * 1024 * 1024,
    });
    const report = JSON.parse(run.stdout) as { results: { failed_checks: { check_id: string; file_path: string }[] }; summary: { passed: number; skipped: number } };
    const failed = report.results.failed_checks;
    expect(failed.filter((check) => !check.file_path.endsWith('bad.yaml'))).toEqual([]);
    const badChecks = failed.map((check) => check.check_id);
    for (const id of ['CKV_K8S_8', 'CKV_K8S_9', 'CKV_K8S_16', 'CKV_K8S_19', 'CKV_K8S_21']) expect(badChecks).toContain(id);
    expect(report.summary.passed).toBeGreaterThan(200);
    // The one documented exception (CKV_K8S_35, see the annotations), per environment on the Deployment and the two backup CronJobs.
    expect(report.summary.skipped).toBe(allEnvironments.length * 3);
  });
});

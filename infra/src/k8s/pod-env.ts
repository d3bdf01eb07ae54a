import type { Manifest } from './types';

/**
 * A pod of the core as Kubernetes assembles it from the rendered manifests: the container spec and its
 * environment (envFrom ConfigMap/Secret, then env). Used by the infra ↔ core contract test and by the
 * test that runs the image as the pod would (ops/build/test).
 */

/** The parts of a rendered Deployment's container that the contract and the image test read. */
export interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  ports: { name: string; containerPort: number }[];
  envFrom: ({ configMapRef: { name: string } } | { secretRef: { name: string } })[];
  env: { name: string; value?: string; valueFrom?: { fieldRef: { fieldPath: string } } }[];
  startupProbe: Probe;
  readinessProbe: Probe;
  livenessProbe: Probe;
  lifecycle?: { preStop?: { sleep?: { seconds: number } } };
  securityContext: { readOnlyRootFilesystem: boolean; runAsUser: number; allowPrivilegeEscalation: boolean; capabilities: { drop: string[] } };
  volumeMounts: { name: string; mountPath: string }[];
}

export interface Probe {
  httpGet: { path: string; port: string | number };
  periodSeconds: number;
  failureThreshold: number;
}

export interface PodSpec {
  terminationGracePeriodSeconds: number;
  securityContext: { runAsUser: number; runAsGroup: number };
  containers: Container[];
  volumes: { name: string; emptyDir?: { sizeLimit?: string } }[];
}

const find = (manifests: Manifest[], kind: string, name: string): Manifest => {
  const found = manifests.find((m) => m.kind === kind && m.metadata.name === name);
  if (!found) throw new Error(`no ${kind}/${name} in the rendered manifests`);
  return found;
};

/** The core's pod spec and its environment exactly as Kubernetes would assemble it (envFrom, then env). */
export function corePod(manifests: Manifest[], podName = 'switchboard-core-0'): { pod: PodSpec; container: Container; env: Record<string, string> } {
  const deployment = find(manifests, 'Deployment', 'switchboard-core') as Manifest & { spec: { template: { spec: PodSpec } } };
  const pod = deployment.spec.template.spec;
  const container = pod.containers.find((c) => c.name === 'core');
  if (!container) throw new Error('the Deployment has no container "core"');
  const env: Record<string, string> = {};
  for (const source of container.envFrom) {
    if ('configMapRef' in source) Object.assign(env, (find(manifests, 'ConfigMap', source.configMapRef.name) as Manifest & { data: Record<string, string> }).data);
    else Object.assign(env, (find(manifests, 'Secret', source.secretRef.name) as Manifest & { stringData: Record<string, string> }).stringData);
  }
  for (const variable of container.env) {
    if (variable.value !== undefined) env[variable.name] = variable.value;
    else if (variable.valueFrom?.fieldRef.fieldPath === 'metadata.name') env[variable.name] = podName;
    else throw new Error(`env ${variable.name}: unsupported valueFrom ${JSON.stringify(variable.valueFrom)}`);
  }
  return { pod, container, env };
}


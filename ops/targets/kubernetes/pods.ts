import { OpsError } from '../../cli/output';
import { commandLine, run } from '../../process';
import { KUBE_CONTEXT_KEY, stackSetting } from '../../state/stacks';

/** One pod of the core's Deployment, as the cluster reports it. */
export interface PodInfo {
  name: string;
  /** The image the pod spec asks for (repo@sha256:… or repo:tag). */
  image: string;
  /** What the kubelet actually pulled (…@sha256:…), when known. */
  imageID?: string;
  phase: string;
  /** The pod's Ready condition. */
  ready: boolean;
  /** Terminating (deletionTimestamp set): on its way out of a rollout. */
  terminating: boolean;
  /** The core container's restart count, when the kubelet reported it (ops details). */
  restarts?: number;
  /** When the pod started (status.startTime, else metadata.creationTimestamp). */
  startedAt?: string;
  /** The node it was scheduled on (spec.nodeName). */
  node?: string;
}

/**
 * The pods of the core and a way to reach each one directly (not through the load balancer), so the
 * post-rollout gate can ask every pod for /ready and its version. Injectable: tests use a double.
 */
export interface PodLister {
  list(): Promise<PodInfo[]>;
  get(pod: string, path: string): Promise<{ status: number; body: unknown }>;
}

/** The selector and namespace of the core's pods (infra/src/k8s/app-manifests.ts coreSelector, infra/src/stack.ts appNamespace). */
export const coreNamespace = 'switchboard';
export const coreSelector = 'app.kubernetes.io/name=switchboard,app.kubernetes.io/component=core';
const podPort = 3000;

/**
 * The real lister: kubectl with the operator's kubeconfig context for the stack (`OPS_KUBE_CONTEXT`).
 * Each pod is reached through the API server's pod proxy (`/api/v1/namespaces/<ns>/pods/<pod>:<port>/proxy/<path>`),
 * so no port-forward and no cluster-internal network is needed.
 */
export function kubectlPods(context: string | undefined, stack = '<stack>'): PodLister {
  const ctx = context ? ['--context', context] : [];
  /** Never the kubeconfig's current context: without the stack's own, refuse to look. */
  const pinned = () => {
    if (!context) throw new OpsError(`no kubectl context for the stack ${stack}: ${KUBE_CONTEXT_KEY} is not set in infra/Pulumi.${stack}.yaml (ops never uses the current context)`, `cd infra && pulumi config set --path --stack ${stack} ${KUBE_CONTEXT_KEY} <kubeconfig context>, or OPS_KUBE_CONTEXT=<context>`, 2);
  };
  return {
    async list() {
      pinned();
      const result = await run('kubectl', [...ctx, '-n', coreNamespace, 'get', 'pods', '-l', coreSelector, '-o', 'json'], {
        timeoutMs: 30_000,
        next: `check that OPS_KUBE_CONTEXT names the stack's cluster and that it answers: ${commandLine('kubectl', [...ctx, 'cluster-info'])}`,
      });
      const items = (JSON.parse(result.stdout) as { items: KubePod[] }).items;
      return items.map((p) => ({
        name: p.metadata.name,
        image: p.spec.containers.find((c) => c.name === 'core')?.image ?? p.spec.containers[0]?.image ?? '',
        imageID: p.status.containerStatuses?.find((c) => c.name === 'core')?.imageID,
        phase: p.status.phase,
        ready: p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
        terminating: Boolean(p.metadata.deletionTimestamp),
        restarts: p.status.containerStatuses?.find((c) => c.name === 'core')?.restartCount,
        startedAt: p.status.startTime ?? p.metadata.creationTimestamp,
        node: p.spec.nodeName,
      }));
    },
    async get(pod, path) {
      pinned();
      const raw = `/api/v1/namespaces/${coreNamespace}/pods/${pod}:${podPort}/proxy${path}`;
      const result = await run('kubectl', [...ctx, 'get', '--raw', raw], { timeoutMs: 15_000, nothrow: true });
      // kubectl prints the body on success; on an HTTP error it exits 1 with `Error from server (<Reason>)`.
      // Anything unrecognised counts as 0: never mistaken for a 200.
      const reason = /Error from server \((\w+)\)/.exec(result.stderr)?.[1];
      const status = result.ok ? 200 : (reason && statusOfReason[reason]) || 0;
      let body: unknown = result.stdout;
      try {
        body = JSON.parse(result.stdout);
      } catch {
        // not JSON: keep the text
      }
      return { status, body };
    },
  };
}

/** The API server's reasons (metav1.StatusReason) for the statuses a pod's /ready and /health answer. */
const statusOfReason: Record<string, number> = { ServiceUnavailable: 503, InternalError: 500, NotFound: 404, BadRequest: 400, Unauthorized: 401, Forbidden: 403, TooManyRequests: 429, Timeout: 504, BadGateway: 502 };

interface KubePod {
  metadata: { name: string; deletionTimestamp?: string; creationTimestamp?: string };
  spec: { containers: { name: string; image: string }[]; nodeName?: string };
  status: { phase: string; startTime?: string; conditions?: { type: string; status: string }[]; containerStatuses?: { name: string; imageID?: string; restartCount?: number }[] };
}

/** The stack's pinned kubectl context: OPS_KUBE_CONTEXT, else the stack's committed switchboard:cluster.context (never the current context). */
export function kubeContextOf(stack: string, env: NodeJS.ProcessEnv): string | undefined {
  return env.OPS_KUBE_CONTEXT ?? stackSetting(stack, KUBE_CONTEXT_KEY);
}

/** `--context <pinned> -n switchboard`, or the refusal that says how to pin one. */
export function pinnedKubectlArgs(stack: string, env: NodeJS.ProcessEnv): string[] {
  const context = kubeContextOf(stack, env);
  if (!context) throw new OpsError(`no kubectl context for the stack ${stack}: ${KUBE_CONTEXT_KEY} is not set in infra/Pulumi.${stack}.yaml (ops never uses the current context)`, `cd infra && pulumi config set --path --stack ${stack} ${KUBE_CONTEXT_KEY} <kubeconfig context>, or OPS_KUBE_CONTEXT=<context>`, 2);
  return ['--context', context, '-n', coreNamespace];
}

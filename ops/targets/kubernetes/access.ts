import { randomBytes } from 'node:crypto';
import { promises as dns } from 'node:dns';
import { OpsError, type Output, type Unknown } from '../../cli/output';
import type { InstanceDetail, Passthrough } from '../access';
import { closest } from '../../cli/did-you-mean';
import { commandLine, run, runAttached } from '../../process';
import { coreNamespace, coreSelector, kubectlPods, kubeContextOf, pinnedKubectlArgs, type PodInfo } from './pods';

/**
 * `ops logs`, `ops exec`, `ops details` and `ops tunnel` on a stack: kubectl with the stack's pinned
 * context (never the current one), against the core's pods (label selector of infra/src/k8s/app-manifests.ts).
 */

const firstLine = (error: unknown) => (error as Error).message.split('\n')[0]!;

/** The pod `--instance` names (must exist: the known ones listed), or the first Ready, not terminating one. */
export async function pickPod(stack: string, env: NodeJS.ProcessEnv, instance: string | undefined): Promise<PodInfo> {
  const pods = await kubectlPods(kubeContextOf(stack, env), stack).list();
  if (instance) {
    const pod = pods.find((p) => p.name === instance);
    if (pod) return pod;
    const names = pods.map((p) => p.name);
    const near = closest(instance, names);
    throw new OpsError(`no pod "${instance}" of the core in ${stack}${near.length ? `; did you mean ${near.slice(0, 3).join(', ')}?` : ''} (pods: ${names.join(', ') || 'none'})`, `ops details --env ${stack}`, 2);
  }
  const pod = pods.find((p) => p.ready && !p.terminating) ?? pods.find((p) => !p.terminating);
  if (!pod) throw new OpsError(`no running pod of the core in ${stack}`, `ops details --env ${stack}`, 1);
  return pod;
}

/** Each pod: its version from its own /health (through the API server's pod proxy), readiness, restarts, age, node. */
export async function kubernetesInstances(stack: string, env: NodeJS.ProcessEnv): Promise<{ instances: InstanceDetail[]; unknowns: Unknown[] }> {
  const lister = kubectlPods(kubeContextOf(stack, env), stack);
  let pods: PodInfo[];
  try {
    pods = await lister.list();
  } catch (error) {
    const next = (error as { next?: string; install?: string }).next ?? (error as { install?: string }).install ?? `kubectl --context <context> -n ${coreNamespace} get pods -l ${coreSelector}`;
    return { instances: [], unknowns: [{ what: 'instances', reason: `cannot list the pods: ${firstLine(error)}`, next }] };
  }
  const instances = await Promise.all(pods.map(async (pod): Promise<InstanceDetail> => {
    const unknowns: Unknown[] = [];
    let version: string | undefined;
    try {
      const health = await lister.get(pod.name, '/health');
      version = health.status === 200 ? (health.body as { version?: string }).version : undefined;
      if (!version) unknowns.push({ what: `${pod.name} version`, reason: `/health answered ${health.status || 'nothing'}`, next: `ops logs --env ${stack} --instance ${pod.name}` });
    } catch (error) {
      unknowns.push({ what: `${pod.name} version`, reason: firstLine(error), next: `ops logs --env ${stack} --instance ${pod.name}` });
    }
    if (pod.restarts === undefined) unknowns.push({ what: `${pod.name} restarts`, reason: 'the kubelet reported no status for the core container yet', next: `kubectl ${pinnedKubectlArgs(stack, env).join(' ')} describe pod ${pod.name}` });
    return { name: pod.name, version, ready: pod.ready && !pod.terminating, restarts: pod.restarts, startedAt: pod.startedAt, node: pod.node, unknowns };
  }));
  return { instances, unknowns: instances.flatMap((i) => i.unknowns) };
}

/** `kubectl logs` of one pod or of every core pod (each line prefixed with its pod), optionally following. */
export function kubectlLogsArgs(stack: string, env: NodeJS.ProcessEnv, options: { pod?: string; since?: string; follow: boolean }): string[] {
  return [
    ...pinnedKubectlArgs(stack, env),
    'logs',
    ...(options.pod ? [`pod/${options.pod}`] : ['-l', coreSelector, '--prefix', '--tail=-1', '--max-log-requests=20']),
    '-c', 'core',
    ...(options.since ? [`--since=${options.since}`] : []),
    ...(options.follow ? ['--follow'] : []),
  ];
}

export async function kubernetesLogs(stack: string, env: NodeJS.ProcessEnv, options: { instance?: string; since?: string; follow: boolean }, io: Passthrough): Promise<number> {
  const pod = options.instance ? (await pickPod(stack, env, options.instance)).name : undefined;
  const args = kubectlLogsArgs(stack, env, { pod, since: options.since, follow: options.follow });
  const result = await runAttached('kubectl', args, { onStdout: io.write, onStderr: io.writeErr, signal: io.signal });
  if (io.signal.aborted) return 0;
  if (result.exitCode !== 0) throw new OpsError(`\`${commandLine('kubectl', args)}\` exited with ${result.signal ?? `code ${result.exitCode}`}`, `ops details --env ${stack} (which pods exist, are they running?)`, 1);
  return 0;
}

/** `kubectl exec` into one core pod (a terminal when ops has one: -it), the command's exit code passed on. */
export async function kubernetesExec(stack: string, env: NodeJS.ProcessEnv, options: { instance?: string; command: string[]; tty: boolean }, io: Passthrough): Promise<number> {
  const pod = await pickPod(stack, env, options.instance);
  const args = [...pinnedKubectlArgs(stack, env), 'exec', ...(options.tty ? ['-it'] : []), pod.name, '-c', 'core', '--', ...options.command];
  const result = await runAttached('kubectl', args, { stdin: options.tty ? 'inherit' : 'ignore', onStdout: io.write, onStderr: io.writeErr, signal: io.signal });
  return result.exitCode ?? 1;
}

export type TunnelService = 'mongodb' | 'redis';

/** Where a tunnel pod forwards to: parsed from the core's own Secret (the URI the pods use). */
export interface TunnelRemote {
  host: string;
  port: number;
  /** The local URI once forwarded to `localPort`. */
  localUri(localPort: number): string;
}

const secretKey: Record<TunnelService, string> = { mongodb: 'MONGODB_URI', redis: 'REDIS_URL' };

/**
 * The remote end: the host and port in the core's Secret (switchboard-secrets). A mongodb+srv URI
 * (Atlas, also through a private endpoint) is resolved to its first host with DNS here; the local
 * URI then connects directly to that one member (directConnection=true, TLS with the member's name
 * not matching 127.0.0.1). `--remote host:port` picks another member (e.g. the primary).
 */
export async function tunnelRemote(service: TunnelService, uri: string, override?: string): Promise<TunnelRemote> {
  const url = new URL(uri);
  let host = url.hostname;
  let port = Number(url.port) || (service === 'mongodb' ? 27017 : 6379);
  let params = new URLSearchParams(url.search);
  if (override) {
    const match = /^([A-Za-z0-9.-]+):(\d{1,5})$/.exec(override);
    if (!match) throw new OpsError(`--remote "${override}" is not host:port`, undefined, 2);
    host = match[1]!;
    port = Number(match[2]);
  } else if (url.protocol === 'mongodb+srv:') {
    let records;
    try {
      records = await dns.resolveSrv(`_mongodb._tcp.${url.hostname}`);
    } catch (error) {
      throw new OpsError(`cannot resolve the SRV record of ${url.hostname}: ${(error as Error).message}`, 'rerun with --remote <member host>:27017 (Atlas UI: the cluster\'s members)', 1);
    }
    const first = records.sort((a, b) => a.priority - b.priority || a.name.localeCompare(b.name))[0];
    if (!first) throw new OpsError(`the SRV record of ${url.hostname} lists no host`, 'rerun with --remote <member host>:27017', 1);
    host = first.name;
    port = first.port;
  }
  if (service === 'mongodb') {
    // One member through one forwarded port: no replica-set discovery (it would name hosts only the VPC reaches).
    params.delete('replicaSet');
    params.set('directConnection', 'true');
    if (url.protocol === 'mongodb+srv:' || params.get('tls') === 'true' || params.get('ssl') === 'true') {
      params.set('tls', 'true');
      params.set('tlsAllowInvalidHostnames', 'true');
      if (!params.has('authSource')) params.set('authSource', 'admin');
    }
  } else {
    params = new URLSearchParams();
  }
  const auth = url.username || url.password ? `${url.username}${url.password ? `:${url.password}` : ''}@` : '';
  const scheme = service === 'mongodb' ? 'mongodb:' : url.protocol;
  const query = params.toString();
  return { host, port, localUri: (localPort) => `${scheme}//${auth}127.0.0.1:${localPort}${url.pathname === '/' ? '/' : url.pathname}${query ? `?${query}` : ''}` };
}

/**
 * The core's namespace enforces Pod Security "restricted" (infra/src/k8s/app-manifests.ts): the tunnel pod
 * runs as the same non-root user with the same contexts, or admission refuses it. Mirrors
 * infra/src/k8s/security.ts (not imported: infra is not part of the image); ops-verbs-kubectl.test.ts compares them.
 */
export const tunnelPodSecurityContext = { runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, fsGroup: 10001, seccompProfile: { type: 'RuntimeDefault' } };
export const tunnelContainerSecurityContext = { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, runAsUser: 10001, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } };

/** The tunnel pod: socat from its port to the remote, gone by itself after activeDeadlineSeconds if ops dies without deleting it. */
export function tunnelPodArgs(stack: string, env: NodeJS.ProcessEnv, name: string, remote: { host: string; port: number }, image: string, deadlineSeconds: number): string[] {
  // Strategic merge: the container entry merges (by name) into the one kubectl run generates.
  const overrides = {
    spec: {
      activeDeadlineSeconds: deadlineSeconds,
      automountServiceAccountToken: false,
      securityContext: tunnelPodSecurityContext,
      containers: [{ name, securityContext: tunnelContainerSecurityContext, resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { cpu: '200m', memory: '64Mi' } } }],
    },
  };
  return [
    ...pinnedKubectlArgs(stack, env), 'run', name, `--image=${image}`, '--restart=Never',
    '--labels=app.kubernetes.io/name=ops-tunnel,app.kubernetes.io/managed-by=ops',
    '--override-type=strategic', `--overrides=${JSON.stringify(overrides)}`,
    '--', `TCP-LISTEN:${remote.port},fork,reuseaddr`, `TCP:${remote.host}:${remote.port}`,
  ];
}

export interface TunnelHandle {
  pod: string;
  localPort: number;
  uri: string;
  /** Resolves when the port-forward ends (Ctrl-C, or kubectl exiting by itself). */
  done: Promise<number>;
}

/**
 * `ops tunnel` on a stack: the core's Secret names the remote; a short-lived pod in the core's
 * namespace (same network path as the pods: Atlas private endpoint, ElastiCache in the VPC) runs
 * socat to it; `kubectl port-forward` brings its port to 127.0.0.1; Ctrl-C ends the forward and
 * deletes the pod.
 */
export async function openKubernetesTunnel(stack: string, env: NodeJS.ProcessEnv, options: { service: TunnelService; localPort: number; remote?: string; signal: AbortSignal }, out: Output): Promise<TunnelHandle> {
  const base = pinnedKubectlArgs(stack, env);
  const key = secretKey[options.service];
  const uri = await out.step(`read ${key} from the core's Secret switchboard-secrets`, async () => {
    const result = await run('kubectl', [...base, 'get', 'secret', 'switchboard-secrets', '-o', `jsonpath={.data.${key}}`], { timeoutMs: 30_000, next: `check the stack's context answers: kubectl ${base.join(' ')} get secret switchboard-secrets` });
    const value = Buffer.from(result.stdout.trim(), 'base64').toString('utf8');
    if (!value) throw new OpsError(`the Secret switchboard-secrets has no ${key}`, `ops config get ${key} --env ${stack}`, 1);
    return value;
  });
  const remote = await tunnelRemote(options.service, uri, options.remote);
  const pod = `ops-tunnel-${options.service}-${randomBytes(3).toString('hex')}`;
  const image = env.OPS_TUNNEL_IMAGE ?? 'docker.io/alpine/socat:1.8.0.0';
  const deadline = 12 * 3600;
  const remove = async () => {
    await run('kubectl', [...base, 'delete', 'pod', pod, '--ignore-not-found', '--wait=false'], { timeoutMs: 30_000, nothrow: true });
  };
  try {
    await out.step(`start pod ${pod} (${image}: socat to ${remote.host}:${remote.port}; deleted on exit, gone after ${deadline / 3600} h at the latest)`, () => run('kubectl', tunnelPodArgs(stack, env, pod, remote, image, deadline), { timeoutMs: 60_000 }));
    await out.step(`wait until ${pod} is Ready`, () => run('kubectl', [...base, 'wait', '--for=condition=Ready', `pod/${pod}`, '--timeout=120s'], { timeoutMs: 130_000, next: `kubectl ${base.join(' ')} describe pod ${pod} (image pull? quota?)` }));
  } catch (error) {
    await remove();
    throw error;
  }
  if (options.signal.aborted) {
    await out.step(`delete pod ${pod}`, remove);
    throw new OpsError('interrupted before the tunnel opened; its pod was deleted', undefined, 130);
  }
  let forwarding!: () => void;
  const listening = new Promise<void>((resolve) => (forwarding = resolve));
  let stderr = '';
  const forward = runAttached('kubectl', [...base, 'port-forward', `pod/${pod}`, `${options.localPort}:${remote.port}`, '--address=127.0.0.1'], {
    onStdout: (chunk) => { if (/Forwarding from/.test(chunk)) forwarding(); },
    onStderr: (chunk) => { stderr += chunk; },
    signal: options.signal,
  });
  const ended = forward.then(async (result) => {
    await out.step(`delete pod ${pod}`, remove).catch(() => out.warn(`could not delete ${pod}: kubectl ${base.join(' ')} delete pod ${pod}`));
    return result;
  });
  const first = await Promise.race([listening.then(() => 'listening' as const), ended.then(() => 'ended' as const)]);
  if (first === 'ended') {
    await ended;
    throw new OpsError(`kubectl port-forward ended before it forwarded: ${stderr.trim().split('\n').at(-1) ?? ''}`, `kubectl ${base.join(' ')} port-forward pod/${pod} ${options.localPort}:${remote.port}`, 1);
  }
  return { pod, localPort: options.localPort, uri: remote.localUri(options.localPort), done: ended.then((r) => (options.signal.aborted ? 0 : r.exitCode ?? 1)) };
}

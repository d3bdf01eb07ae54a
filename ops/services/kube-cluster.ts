import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run } from '../process';
import { crdDir, kubeBinaryPath, kwokPath, kwokStagesPath, nginxCrds, requireKubeTool } from './kube-toolchain';
import { varDir } from './paths';
import { freePort, waitForPort } from './ports';
import { spawnService, type RunningService } from './service-process';
import { requireCommand } from './system-packages';
import { versions } from './versions';

/** A local Kubernetes control plane whose pods kwok makes Running/Ready (no containers run). */
export interface KubeCluster {
  /** kubeconfig file (static token, the cluster's CA) with one context, `context`. */
  kubeconfig: string;
  context: string;
  /** https://127.0.0.1:<port> */
  server: string;
  /** kubectl pinned to this cluster's kubeconfig and context. */
  kubectl(args: string[], options?: { input?: string; timeoutMs?: number; nothrow?: boolean }): ReturnType<typeof run>;
  /** Environment for tools: KUBECONFIG, and PATH with the pinned kubectl first. */
  env: Record<string, string>;
  /** Startup timings, ms (printed by `services up --kubernetes`, reported by the e2e test). */
  timings: Record<string, number>;
  stop(): Promise<void>;
}

export interface KubeClusterOptions {
  /** Namespaces created before anything is deployed: kwok needs 20–35 s to start pods in a namespace created later. */
  namespaces?: string[];
  logDir?: string;
  /** The kubeconfig context's name. */
  context?: string;
  log?: (line: string) => void;
  /**
   * More kwok Stage objects (YAML), loaded after the upstream ones: a test's failure mode, e.g. pods of one
   * image that never get Ready. kwok picks a weighted stage over an unweighted one when both match.
   */
  stages?: string;
}

const kwokNodeName = 'kwok-node-0';

/**
 * etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok on free loopback ports, with
 * certificates, service-account keys and a static-token kubeconfig generated in a temporary directory;
 * one fake node, the stack's namespaces and the CRDs the stacks use (prometheus-operator, cert-manager
 * upstream; NGINX minimal, see nginxCrds) installed. stop() (also called when startup fails) stops
 * everything, the API server before etcd (the other order hangs it), and removes the directory.
 * Processes run through the process layer (spawnService): a killed run leaves nothing behind.
 */
export async function startKubeCluster(options: KubeClusterOptions = {}): Promise<KubeCluster> {
  const log = options.log ?? (() => undefined);
  const etcdBinary = requireCommand('etcd');
  const bins = {
    apiserver: requireKubeTool(kubeBinaryPath('kube-apiserver'), `kube-apiserver ${versions.kubernetes}`),
    controllerManager: requireKubeTool(kubeBinaryPath('kube-controller-manager'), `kube-controller-manager ${versions.kubernetes}`),
    scheduler: requireKubeTool(kubeBinaryPath('kube-scheduler'), `kube-scheduler ${versions.kubernetes}`),
    kubectl: requireKubeTool(kubeBinaryPath('kubectl'), `kubectl ${versions.kubernetes}`),
    kwok: requireKubeTool(kwokPath(), `kwok ${versions.kwok}`),
  };
  const stages = requireKubeTool(kwokStagesPath(), 'the kwok stage configs');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-kube-'));
  const logDir = options.logDir ?? path.join(varDir, 'log');
  fs.mkdirSync(logDir, { recursive: true });
  const context = options.context ?? 'switchboard-local';
  const services: RunningService[] = [];
  const timings: Record<string, number> = {};
  const t0 = performance.now();
  const mark = (name: string) => { timings[name] = Math.round(performance.now() - t0); log(`${name} (${(timings[name] / 1000).toFixed(1)} s)`); };

  const stop = async () => {
    // Reverse start order: kwok, scheduler, controller-manager, API server, then etcd.
    for (const service of services.reverse()) await service.stop().catch(() => undefined);
    services.length = 0;
    fs.rmSync(dir, { recursive: true, force: true });
  };

  const kubeconfig = path.join(dir, 'kubeconfig');
  const kubectl: KubeCluster['kubectl'] = (args, o = {}) => run(bins.kubectl, ['--kubeconfig', kubeconfig, '--context', context, ...args], { timeoutMs: o.timeoutMs ?? 60_000, input: o.input, nothrow: o.nothrow, next: `inspect the cluster's logs in ${logDir} (kube-*.log)` });

  try {
    const [etcdPort, etcdPeerPort, apiPort, cmPort, schedPort, kwokPort] = (await Promise.all(Array.from({ length: 6 }, () => freePort()))) as [number, number, number, number, number, number];
    const server = `https://127.0.0.1:${apiPort}`;
    await writeCertificates(dir, log);
    const token = randomBytes(24).toString('hex');
    fs.writeFileSync(path.join(dir, 'tokens.csv'), `${token},switchboard-admin,switchboard-admin,system:masters\n`, { mode: 0o600 });
    const ca = fs.readFileSync(path.join(dir, 'ca.crt')).toString('base64');
    fs.writeFileSync(kubeconfig, `apiVersion: v1
kind: Config
clusters:
- name: ${context}
  cluster: { server: ${server}, certificate-authority-data: ${ca} }
users:
- name: ${context}-admin
  user: { token: ${token} }
contexts:
- name: ${context}
  context: { cluster: ${context}, user: ${context}-admin }
current-context: ${context}
`, { mode: 0o600 });
    const logFile = (name: string) => path.join(logDir, `${name}-${apiPort}.log`);

    services.push(await spawnService({
      name: 'etcd', command: etcdBinary, logFile: logFile('kube-etcd'), address: `http://127.0.0.1:${etcdPort}`,
      args: ['--name', 'default', '--data-dir', path.join(dir, 'etcd'), '--listen-client-urls', `http://127.0.0.1:${etcdPort}`, '--advertise-client-urls', `http://127.0.0.1:${etcdPort}`,
        '--listen-peer-urls', `http://127.0.0.1:${etcdPeerPort}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${etcdPeerPort}`, '--initial-cluster', `default=http://127.0.0.1:${etcdPeerPort}`,
        '--unsafe-no-fsync', '--quota-backend-bytes', String(512 * 1024 * 1024)],
      waitReady: () => waitForPort(etcdPort, 60_000),
    }));
    mark('etcd up');
    services.push(await spawnService({
      name: 'kube-apiserver', command: bins.apiserver, logFile: logFile('kube-apiserver'), address: server,
      args: [`--etcd-servers=http://127.0.0.1:${etcdPort}`, '--bind-address=127.0.0.1', `--secure-port=${apiPort}`,
        // A loopback advertise address is refused with the endpoint reconciler: a documentation address and no reconciler.
        '--advertise-address=192.0.2.10', '--endpoint-reconciler-type=none',
        `--tls-cert-file=${dir}/apiserver.crt`, `--tls-private-key-file=${dir}/apiserver.key`, `--client-ca-file=${dir}/ca.crt`,
        `--token-auth-file=${dir}/tokens.csv`, '--authorization-mode=Node,RBAC',
        `--service-account-key-file=${dir}/sa.pub`, `--service-account-signing-key-file=${dir}/sa.key`, '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
        '--service-cluster-ip-range=10.96.0.0/16', '--allow-privileged=true', '--profiling=false', '--watch-cache=true'],
      waitReady: () => until(90_000, async () => (await kubectl(['get', '--raw', '/readyz'], { nothrow: true, timeoutMs: 10_000 })).ok, 'the API server /readyz'),
    }));
    mark('kube-apiserver ready');
    const kc = [`--kubeconfig=${kubeconfig}`, `--authentication-kubeconfig=${kubeconfig}`, `--authorization-kubeconfig=${kubeconfig}`, '--bind-address=127.0.0.1', '--leader-elect=false'];
    services.push(await spawnService({
      name: 'kube-controller-manager', command: bins.controllerManager, logFile: logFile('kube-controller-manager'), address: `127.0.0.1:${cmPort}`,
      // Without the node-lifecycle controller pods stay Pending on the not-ready taint; nodeipam needs a cluster CIDR we do not have.
      args: [...kc, `--secure-port=${cmPort}`, '--controllers=*,-nodeipam', `--service-account-private-key-file=${dir}/sa.key`, `--root-ca-file=${dir}/ca.crt`, '--use-service-account-credentials=false'],
      waitReady: () => waitForPort(cmPort, 90_000),
    }));
    services.push(await spawnService({
      name: 'kube-scheduler', command: bins.scheduler, logFile: logFile('kube-scheduler'), address: `127.0.0.1:${schedPort}`,
      args: [...kc, `--secure-port=${schedPort}`],
      waitReady: () => waitForPort(schedPort, 90_000),
    }));
    mark('controller-manager and scheduler up');
    const stageConfigs = [stages];
    if (options.stages) {
      fs.writeFileSync(path.join(dir, 'extra-stages.yaml'), options.stages);
      stageConfigs.push(path.join(dir, 'extra-stages.yaml'));
    }
    services.push(await spawnService({
      name: 'kwok', command: bins.kwok, logFile: logFile('kube-kwok'), address: `127.0.0.1:${kwokPort}`,
      args: [`--kubeconfig=${kubeconfig}`, '--manage-all-nodes=false', '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake', `--server-address=127.0.0.1:${kwokPort}`, '--cidr=10.0.0.0/16', '--node-ip=10.0.255.1', ...stageConfigs.map((file) => `--config=${file}`)],
      waitReady: () => waitForPort(kwokPort, 90_000),
    }));
    await kubectl(['apply', '-f', '-'], { input: nodeManifest(kwokNodeName) });
    await kubectl(['wait', '--for=condition=Ready', `node/${kwokNodeName}`, '--timeout=120s'], { timeoutMs: 130_000 });
    mark('kwok node Ready');
    const namespaces = options.namespaces ?? [];
    if (namespaces.length) await kubectl(['apply', '-f', '-'], { input: namespaces.map((n) => `apiVersion: v1\nkind: Namespace\nmetadata: { name: ${n} }\n`).join('---\n') });
    await kubectl(['apply', '--server-side', '-f', crdDir()], { timeoutMs: 120_000 });
    await kubectl(['apply', '--server-side', '-f', '-'], { input: nginxCrds() });
    await kubectl(['wait', '--for=condition=Established', 'crd', '--all', '--timeout=120s'], { timeoutMs: 130_000 });
    // The default ServiceAccount of each namespace (the token controller) must exist before pods are created.
    for (const n of namespaces) await until(60_000, async () => (await kubectl(['-n', n, 'get', 'serviceaccount', 'default'], { nothrow: true })).ok, `the default ServiceAccount in ${n}`);
    mark('namespaces and CRDs ready');
    return {
      kubeconfig, context, server, kubectl, timings, stop,
      env: { KUBECONFIG: kubeconfig, PATH: `${path.dirname(bins.kubectl)}:${process.env.PATH ?? ''}` },
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

const nodeManifest = (name: string) => `apiVersion: v1
kind: Node
metadata:
  name: ${name}
  annotations: { kwok.x-k8s.io/node: fake, node.alpha.kubernetes.io/ttl: "0" }
  labels: { kubernetes.io/hostname: ${name}, kubernetes.io/os: linux, kubernetes.io/arch: amd64, kubernetes.io/role: agent, node-role.kubernetes.io/agent: "", type: kwok }
status:
  allocatable: { cpu: "32", memory: 256Gi, pods: "110" }
  capacity: { cpu: "32", memory: 256Gi, pods: "110" }
`;

/** CA, the API server's serving certificate (127.0.0.1, localhost, kubernetes.default…) and the service-account key pair. */
async function writeCertificates(dir: string, log: (line: string) => void): Promise<void> {
  const openssl = requireCommand('openssl');
  const o = (args: string[]) => run(openssl, args, { cwd: dir, timeoutMs: 60_000, next: 'check that openssl works: openssl version' });
  await o(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=switchboard-local-ca']);
  fs.writeFileSync(path.join(dir, 'san.cnf'), 'subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n');
  await o(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'apiserver.key', '-out', 'apiserver.csr', '-subj', '/CN=kube-apiserver']);
  await o(['x509', '-req', '-in', 'apiserver.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'apiserver.crt', '-days', '2', '-extfile', 'san.cnf']);
  await o(['genrsa', '-out', 'sa.key', '2048']);
  await o(['rsa', '-in', 'sa.key', '-pubout', '-out', 'sa.pub']);
  log('certificates and service-account keys generated');
}

async function until(timeoutMs: number, check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what} did not answer within ${Math.round(timeoutMs / 1000)} s`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

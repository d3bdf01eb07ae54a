import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../services/paths';
import { resolveSource } from '../targets/local/release-build';
import { ensureLocalBase, officialBase } from './base-image';
import { compileTree } from './compile';
import type { Podman } from './podman';
import { copyProductionPackages } from './production-deps';
import { unresolvedRuntimeModules } from './runtime-modules';

export const dockerfilePath = path.join(__dirname, 'Dockerfile');

/** What the image carries: the core, and ops (whose backup and jobs commands the CronJobs run). */
// core/client/src: ops (verify, smoke tests) talk to the core through @switchboard/client.
export const imageFolders = ['core/src', 'core/client/src', 'ops'];

export interface ImageBuild {
  image: string;
  /** Manifest digest (sha256:…) of the built image. */
  digest: string;
  id: string;
  base: string;
  version: string;
  gitSha: string;
  sizeBytes: number;
  steps: Record<string, number>;
}

export interface BuildImageOptions {
  podman: Podman;
  /** `local` (debootstrap + Node 24 from npm) or an image reference; default $OPS_IMAGE_BASE or node:24-bookworm-slim. */
  base?: string;
  /** Where to stage the build context (emptied first). */
  contextDir: string;
  /** Image name without tag (default localhost/switchboard-core). */
  repository?: string;
  log: (line: string) => void;
  now?: Date;
}

const timed = async <T>(steps: Record<string, number>, name: string, fn: () => Promise<T> | T): Promise<T> => {
  const started = performance.now();
  try {
    return await fn();
  } finally {
    steps[name] = Math.round(performance.now() - started);
  }
};

/**
 * Stages the context (compiled JavaScript, package files, the lock file's production packages),
 * then `podman build --format docker` (the OCI format drops HEALTHCHECK) and reads back the digest.
 */
export async function buildImage(options: BuildImageOptions): Promise<ImageBuild> {
  const steps: Record<string, number> = {};
  const { podman, log } = options;
  // The image carries ops too: uncommitted changes there make it -dirty as well.
  const source = resolveSource(undefined, [...imageFolders, 'package.json', 'package-lock.json', path.relative(repoRoot, dockerfilePath)]);
  const version = `${source.gitSha}${source.dirty ? '-dirty' : ''}`;
  const ctx = options.contextDir;
  const app = path.join(ctx, 'app');
  await timed(steps, 'stage', () => {
    fs.rmSync(ctx, { recursive: true, force: true });
    fs.mkdirSync(app, { recursive: true });
    const compiled = compileTree(repoRoot, app, imageFolders);
    for (const file of ['package.json', 'package-lock.json']) fs.copyFileSync(path.join(repoRoot, file), path.join(app, file));
    const packages = copyProductionPackages(repoRoot, app);
    const unresolved = unresolvedRuntimeModules(app);
    if (unresolved.length) {
      throw new Error(`the image would not run: ${unresolved.map((u) => `${u.module} (required by ${u.chain.join(' → ')})`).join('; ')} is not a production package\nnext: move it from devDependencies to dependencies in package.json (npm install --save-prod <name>), then build again`);
    }
    fs.copyFileSync(dockerfilePath, path.join(ctx, 'Dockerfile'));
    log(`staged ${compiled.files} compiled files and ${packages} production packages in ${path.relative(repoRoot, ctx) || ctx}`);
  });
  const requested = options.base ?? process.env.OPS_IMAGE_BASE ?? officialBase;
  const base = requested === 'local' ? await timed(steps, 'base', () => ensureLocalBase(podman, log)) : requested;
  const image = `${options.repository ?? 'localhost/switchboard-core'}:${version}`;
  const created = (options.now ?? new Date()).toISOString();
  await timed(steps, 'build', async () => {
    log(`podman build ${image} FROM ${base} ...`);
    await podman.run([
      'build', '--format', 'docker', ...(requested === 'local' ? ['--pull=never'] : []),
      '--build-arg', `BASE_IMAGE=${base}`, '--build-arg', `VERSION=${version}`, '--build-arg', `GIT_SHA=${source.gitSha}`, '--build-arg', `CREATED=${created}`,
      '-f', path.join(ctx, 'Dockerfile'), '-t', image, ctx,
    ], { timeoutMs: 15 * 60_000, next: `the failing Dockerfile step is in the stderr lines above; the staged build context is kept in ${ctx}` });
  });
  const inspected = await podman.run(['image', 'inspect', '--format', '{{.Digest}} {{.Id}} {{.Size}}', image]);
  const [digest, id, size] = inspected.stdout.trim().split(' ');
  return { image, digest: digest!, id: id!, base, version, gitSha: source.gitSha, sizeBytes: Number(size), steps };
}

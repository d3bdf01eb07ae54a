import fs from 'node:fs';
import path from 'node:path';
import { run, type RunOptions, type RunResult } from '../process';
import { cacheDir } from '../services/paths';
import { requireCommand } from '../services/system-packages';

/**
 * podman as ops and the tests use it. Two host quirks are fixed by a containers.conf the project
 * writes and points CONTAINERS_CONF at: crun cannot run on hybrid cgroups here (runc can), and
 * podman's default ulimits exceed what the sandbox may raise, so they are capped at the host's hard
 * `nofile` and nproc=4096. A `storage` root keeps a test's images, containers and run state in its
 * own directory (removed afterwards) instead of /var/lib/containers and /run/containers.
 */
export interface Podman {
  /**
   * Runs `podman <global args> <args>` through the process layer, resolving to its output; rejects
   * with a CommandError (what ran, exit code, stderr tail), or with `nothrow` resolves with `ok: false`.
   * Default budget: 2 minutes; `podman build` passes its own.
   */
  run(args: string[], options?: PodmanRunOptions): Promise<RunResult>;
  /** The global flags every call gets (storage root, runroot), for commands started by hand. */
  readonly globalArgs: string[];
  readonly env: NodeJS.ProcessEnv;
}

/** The process layer's options, minus the environment (always the one podman was opened with). */
export type PodmanRunOptions = Omit<RunOptions, 'env'>;

export interface PodmanOptions {
  /**
   * Own storage: images in <dir>/root, run state in <dir>/run, libpod's tmp state and file locks in
   * <dir>/tmp. Default: podman's system storage.
   */
  storageDir?: string;
}

/** Finds what image builds need (installed by the provisioning step, ops/services/system-packages.ts). */
export function ensureImageTools(): void {
  for (const command of ['podman', 'buildah', 'runc', 'debootstrap']) requireCommand(command);
}

/** Writes the project's containers.conf (under the cache dir) and returns its path. */
export function writeContainersConf(hardNofile: number, storageDir?: string): string {
  const file = storageDir ? path.join(storageDir, 'containers.conf') : path.join(cacheDir, 'podman', 'containers.conf');
  const text = [
    '# Written by ops/build/podman.ts; see there for why each line exists.',
    '[containers]',
    `default_ulimits = ["nofile=${hardNofile}:${hardNofile}", "nproc=4096:4096"]`,
    '[engine]',
    'runtime = "runc"',
    'cgroup_manager = "cgroupfs"',
    'events_logger = "file"',
    // Own storage gets its own locks: the default shm locks live in one /dev/shm segment shared by
    // every podman root on the host, so two builds running at once (two operators' rehearsals, a
    // test next to a real build) allocated the same lock number and podman's state refresh failed
    // with "acquiring lock 1 for container …: file exists". File locks live under --tmpdir.
    ...(storageDir ? ['lock_type = "file"'] : []),
    '',
  ].join('\n');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  if (!fs.existsSync(file) || fs.readFileSync(file, 'utf8') !== text) fs.writeFileSync(file, text);
  return file;
}

async function hardNofile(): Promise<number> {
  // A shell builtin: there is no `ulimit` binary to run directly.
  const out = await run('sh', ['-c', 'ulimit -Hn'], { timeoutMs: 10_000 });
  const n = Number(out.stdout.trim());
  return Number.isFinite(n) && n > 0 ? n : 1024;
}

export async function openPodman(options: PodmanOptions = {}): Promise<Podman> {
  ensureImageTools();
  const { storageDir } = options;
  if (storageDir) fs.mkdirSync(storageDir, { recursive: true });
  const env = { ...process.env, CONTAINERS_CONF: writeContainersConf(await hardNofile(), storageDir) };
  const globalArgs = storageDir
    ? ['--root', path.join(storageDir, 'root'), '--runroot', path.join(storageDir, 'run'), '--tmpdir', path.join(storageDir, 'tmp')]
    : [];
  return {
    globalArgs,
    env,
    run: (args, runOptions = {}) => run('podman', [...globalArgs, ...args], { ...runOptions, env }),
  };
}

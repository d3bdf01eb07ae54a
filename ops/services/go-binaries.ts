import fs from 'node:fs';
import path from 'node:path';
import { findCommand, run } from '../process';
import { cacheDir } from './paths';
import { versions } from './versions';

/** A server the tests run that is built from a Go module at a pinned version. */
export interface GoBinary {
  /** Name of the cached binary (and of the step). */
  name: string;
  /** The package `go install` builds. */
  package: string;
  version: string;
  /** The binary `go install` writes, when it differs from `name` (toxiproxy's cmd/server → server). */
  builds?: string;
  /** Roughly how long a cold build takes here (2 cores), shown before it starts. */
  coldBuild: string;
}

/** Every Go-built server: one line each. */
export const goBinaries = {
  minio: { name: 'minio', package: 'github.com/minio/minio', version: versions.minio, coldBuild: '~3 min' },
  toxiproxy: { name: 'toxiproxy-server', package: 'github.com/Shopify/toxiproxy/v2/cmd/server', version: versions.toxiproxy, builds: 'server', coldBuild: '~3 min' },
  /** The local cluster's kubelet stand-in (ops/services/kube-cluster.ts). */
  kwok: { name: 'kwok', package: 'sigs.k8s.io/kwok/cmd/kwok', version: versions.kwok, coldBuild: '~1 min' },
} satisfies Record<string, GoBinary>;

export type GoBinaryName = keyof typeof goBinaries;

/** Where a pinned build lives: one directory per version, so a pin change builds afresh. */
export const goBinaryPath = (binary: GoBinary) => path.join(cacheDir, 'go-bin', binary.name, binary.version, binary.name);

const installHint = (binary: GoBinary) => `npm run services -- provision (runs go install ${binary.package}@${binary.version})`;

/**
 * The provisioned binary of a Go-built server (MINIO_BINARY / TOXIPROXY_BINARY override). Never
 * builds: a missing binary means provisioning did not run, and the error says how to run it.
 */
export function requireGoBinary(name: GoBinaryName): string {
  const binary: GoBinary = goBinaries[name];
  const override = process.env[`${name.toUpperCase()}_BINARY`];
  const file = override ?? goBinaryPath(binary);
  if (fs.existsSync(file)) return file;
  throw new Error(`${binary.name} ${binary.version} is not provisioned (${file} is missing). Build it with: ${installHint(binary)}`);
}

export const isGoBinaryProvisioned = (binary: GoBinary) => fs.existsSync(goBinaryPath(binary));

export function findGo(): string {
  const go = findCommand('go') ?? ['/usr/local/go/bin/go', '/usr/lib/go/bin/go'].find((p) => fs.existsSync(p));
  if (!go) throw new Error('Go is not installed (needed to build the pinned test servers). Install Go >= 1.24 from https://go.dev/dl/ into /usr/local/go (the golang-go Debian package is too old for MinIO)');
  return go;
}

/**
 * `go install <package>@<version>` into the cache. flock: a parallel run waits for the build in
 * progress, then builds again from Go's warm build cache (seconds) and replaces it atomically.
 */
export async function buildGoBinary(binary: GoBinary): Promise<void> {
  const target = goBinaryPath(binary);
  const dir = path.dirname(target);
  fs.mkdirSync(dir, { recursive: true });
  const gobin = fs.mkdtempSync(path.join(dir, 'build-'));
  try {
    await run('flock', [path.join(dir, 'build.lock'), findGo(), 'install', `${binary.package}@${binary.version}`], {
      env: { GOBIN: gobin, GOFLAGS: '-mod=mod', GOTOOLCHAIN: 'local' },
      timeoutMs: 30 * 60_000,
      stream: true,
      next: `check the Go module proxy is reachable (go env GOPROXY) and serves ${binary.package}@${binary.version} (go list -m -versions), then: ${installHint(binary)}`,
    });
    fs.renameSync(path.join(gobin, binary.builds ?? binary.name), target);
  } finally {
    fs.rmSync(gobin, { recursive: true, force: true });
  }
}

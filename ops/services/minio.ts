import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cacheDir, varDir } from './paths';
import { freePort, waitForPort } from './ports';
import { spawnService, type RunningService } from './service-process';

const minioDir = path.join(cacheDir, 'minio');
/** The cached MinIO server binary (built once by `go install`). Override with MINIO_BINARY. */
export const minioBinary = process.env.MINIO_BINARY ?? path.join(minioDir, 'bin', 'minio');

/**
 * Builds MinIO once with `go install github.com/minio/minio@latest` into the shared cache; later
 * calls (and parallel callers, via flock) reuse it. Takes about 3 minutes on 2 cores.
 */
export function ensureMinioBinary(): string {
  if (fs.existsSync(minioBinary)) return minioBinary;
  const go = ['/usr/local/go/bin/go', '/usr/lib/go/bin/go'].find((p) => fs.existsSync(p)) ?? 'go';
  fs.mkdirSync(path.join(minioDir, 'bin'), { recursive: true });
  const tmpBin = fs.mkdtempSync(path.join(minioDir, 'build-'));
  console.error(`[services] building MinIO once, ~3 min (go install github.com/minio/minio@latest → ${minioBinary}) ...`);
  // flock: a second caller waits for the first build, then finds the binary and skips its own.
  const script = `test -x "$TARGET" || { "$GO" install github.com/minio/minio@latest && mv "$GOBIN/minio" "$TARGET"; }`;
  const result = spawnSync('flock', [path.join(minioDir, 'build.lock'), 'sh', '-c', script], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, GO: go, GOBIN: tmpBin, TARGET: minioBinary, GOFLAGS: '-mod=mod', GOTOOLCHAIN: 'local' },
  });
  fs.rmSync(tmpBin, { recursive: true, force: true });
  if (result.status !== 0 || !fs.existsSync(minioBinary)) {
    throw new Error(`could not build MinIO (exit ${result.status ?? result.signal}${result.error ? `, ${result.error.message}` : ''}). ` +
      'Check that Go is installed (/usr/local/go/bin/go) and the Go module proxy is reachable, then retry.');
  }
  console.error(`[services] MinIO built: ${minioBinary}`);
  return minioBinary;
}

export interface RunningMinio extends RunningService {
  /** http://127.0.0.1:<port> */
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  /** Key id of MinIO's built-in static KMS key: enables SSE-S3 (`AES256`) and SSE-KMS (`aws:kms` + this id). */
  kmsKeyId: string;
}

/**
 * An S3-compatible server: MinIO on a free loopback port with a throwaway data dir and random
 * credentials, removed again by stop().
 */
export async function startMinio(options: { logDir?: string } = {}): Promise<RunningMinio> {
  const binary = ensureMinioBinary();
  const port = await freePort();
  const consolePort = await freePort();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-minio-'));
  const accessKeyId = `sb${randomBytes(6).toString('hex')}`;
  const secretAccessKey = randomBytes(24).toString('base64url');
  const endpoint = `http://127.0.0.1:${port}`;
  const kmsKeyId = 'switchboard-local-key';
  const service = await spawnService({
    name: 'minio',
    command: binary,
    args: ['server', '--quiet', '--address', `127.0.0.1:${port}`, '--console-address', `127.0.0.1:${consolePort}`, dataDir],
    logFile: path.join(options.logDir ?? path.join(varDir, 'log'), `minio-${port}.log`),
    waitReady: async () => {
      await waitForPort(port, 30_000);
      await waitForHealthy(`${endpoint}/minio/health/ready`, 30_000);
    },
    address: endpoint,
    env: {
      MINIO_ROOT_USER: accessKeyId, MINIO_ROOT_PASSWORD: secretAccessKey, MINIO_BROWSER: 'off', MINIO_UPDATE: 'off', MINIO_REGION: 'us-east-1',
      MINIO_KMS_SECRET_KEY: `${kmsKeyId}:${randomBytes(32).toString('base64')}`,
    },
  });
  return {
    ...service,
    endpoint,
    accessKeyId,
    secretAccessKey,
    region: 'us-east-1',
    kmsKeyId,
    async stop() {
      await service.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function waitForHealthy(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer 200 within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

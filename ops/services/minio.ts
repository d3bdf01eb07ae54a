import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { requireGoBinary } from './go-binaries';
import { varDir } from './paths';
import { freePort, waitForPort } from './ports';
import { spawnService, type RunningService } from './service-process';

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
 * Browser origins MinIO answers CORS for. The pinned build's default (MINIO_API_CORS_ALLOW_ORIGIN
 * unset) is `*`: any page could PUT to or GET from a presigned URL. Like the production media
 * bucket's CORS rule (infra/src/components/storage.ts) it is narrowed to the app's origin, which in
 * tests is a core on a loopback port chosen at start (so any port; rs/cors takes one `*`).
 */
export const minioCorsAllowOrigins = ['http://127.0.0.1:*', 'http://localhost:*'];

/**
 * An S3-compatible server: MinIO (the pinned build, provisioned before the tests) on a free loopback
 * port with a throwaway data dir and random credentials, removed again by stop().
 */
export async function startMinio(options: { logDir?: string; corsAllowOrigins?: string[] } = {}): Promise<RunningMinio> {
  const binary = requireGoBinary('minio');
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
      MINIO_API_CORS_ALLOW_ORIGIN: (options.corsAllowOrigins ?? minioCorsAllowOrigins).join(','),
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

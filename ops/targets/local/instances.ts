import path from 'node:path';
import { configSpec } from '../../../core/src/config';
import { coreNodeFlags } from '../../../core/src/runtime-flags';
import type { ReleaseRecord } from '../../state/releases';
import type { InstanceStatus } from '../target';
import { hasExited, isOurs, spawnDaemon, stopDaemon, tail, type DaemonInfo } from './processes';
import { entryPoint } from './release-build';

export interface InstanceInfo extends DaemonInfo {
  id: string;
  release: string;
  version: string;
  port: number;
  /** The internal listener (METRICS_PORT: /metrics, detailed /health); absent in state written before it existed. */
  metricsPort?: number;
  startedAt: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Where an instance's internal listener answers (/metrics, detailed /health and /ready); the public port for state written before it existed. */
export const internalUrlOf = (instance: Pick<InstanceInfo, 'port' | 'metricsPort'>) => `http://127.0.0.1:${instance.metricsPort || instance.port}`;

/** The environment of one core instance: target settings, the release's own settings, then what ops sets per instance. */
export function instanceEnv(settings: Record<string, string>, release: ReleaseRecord, artifact: ReleaseRecord, port: number, index: number, metricsPort = 0): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    ...(process.env.HOME ? { HOME: process.env.HOME } : {}),
    ...settings,
    ...artifact.settings,
    PORT: String(port),
    HOST: '127.0.0.1',
    METRICS_PORT: String(metricsPort),
    METRICS_HOST: '127.0.0.1',
    INSTANCE_ID: `local-${release.id}-${index + 1}`,
    RELEASE_VERSION: `${artifact.id}-${artifact.version}`,
  };
}

/** Starts a core instance from a release build with plain node (detached: it outlives the ops command). */
export function startInstance(build: string, env: Record<string, string>, logDir: string, release: string): InstanceInfo {
  const daemon = spawnDaemon(process.execPath, [...coreNodeFlags, entryPoint(build)], { cwd: build, env, log: path.join(logDir, `${env.INSTANCE_ID}.log`), marker: entryPoint(build) });
  return { ...daemon, id: env.INSTANCE_ID!, release, version: env.RELEASE_VERSION!, port: Number(env.PORT), metricsPort: Number(env.METRICS_PORT), startedAt: new Date().toISOString() };
}

/** Waits for GET /ready = 200; fails at once (with the log's tail) when the process exits. */
export async function waitReady(instance: InstanceInfo, deadline: number, timeoutMs: number): Promise<void> {
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (hasExited(instance)) throw new Error(`instance ${instance.id} exited before it was ready (last: ${last})\n  log: ${instance.log}\n${tail(instance.log)}`);
    try {
      // The internal listener's /ready names each dependency's error; the public one only what is down.
      const response = await fetch(`${internalUrlOf(instance)}/ready`, { signal: AbortSignal.timeout(2_000) });
      if (response.status === 200) return;
      last = `/ready ${response.status} ${await response.text()}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await sleep(150);
  }
  throw new Error(`instance ${instance.id} not ready after ${timeoutMs} ms (last: ${last})\n  log: ${instance.log}\n${tail(instance.log)}`);
}

/** SIGTERM (the core drains), SIGKILL after SHUTDOWN_DRAIN_MS + 5 s. */
export async function stopInstances(instances: InstanceInfo[], settings: Record<string, string>): Promise<string[]> {
  const graceMs = Number(settings.SHUTDOWN_DRAIN_MS ?? configSpec.SHUTDOWN_DRAIN_MS.default) + 5_000;
  return Promise.all(instances.map(async (i) => `${i.id}: ${await stopDaemon(i, graceMs)}`));
}

/** The core polls the Redis flag every second: waits until every instance's /health agrees. */
export async function waitForMaintenance(instances: InstanceInfo[], on: boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const pending = new Set(instances);
  while (pending.size && Date.now() < deadline) {
    for (const i of [...pending]) {
      try {
        const h = (await (await fetch(`http://127.0.0.1:${i.port}/health`, { signal: AbortSignal.timeout(1_000) })).json()) as { maintenance?: { on: boolean } };
        if (h.maintenance?.on === on) pending.delete(i);
      } catch {
        // retried below
      }
    }
    if (pending.size) await sleep(100);
  }
  if (pending.size) throw new Error(`${[...pending].map((i) => i.id).join(', ')} still report maintenance ${on ? 'off' : 'on'} after ${timeoutMs} ms (is REDIS_URL the Redis they use?)`);
}

/** One instance as `ops status` shows it: process, /health (details from the internal listener), /ready. */
export async function probeInstance(i: InstanceInfo): Promise<InstanceStatus> {
  const base = `http://127.0.0.1:${i.port}`;
  const result: InstanceStatus = { id: i.id, url: base, release: i.release, version: i.version, healthy: false, ready: false };
  if (!isOurs(i)) return { ...result, error: `process ${i.pid} is not running (log: ${i.log})` };
  try {
    const detailed = internalUrlOf(i);
    const health = (await (await fetch(`${detailed}/health`, { signal: AbortSignal.timeout(2_000) })).json()) as { version: string; draining: boolean; maintenance: { on: boolean }; sockets: number; uptimeSeconds: number };
    const ready = await fetch(`${detailed}/ready`, { signal: AbortSignal.timeout(3_000) });
    return { ...result, version: health.version, healthy: true, ready: ready.status === 200, draining: health.draining, maintenance: health.maintenance.on, sockets: health.sockets, uptimeSeconds: health.uptimeSeconds, ...(ready.status === 200 ? {} : { error: `/ready ${ready.status}: ${await ready.text()}` }) };
  } catch (error) {
    return { ...result, error: (error as Error).message };
  }
}

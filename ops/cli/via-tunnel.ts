import type * as KubernetesAccess from '../targets/kubernetes/access';
import type * as Ports from '../services/ports';
import { OpsError, type Output } from './output';
import type { DataStore } from './types';

/**
 * `--via-tunnel` (any command that declares `dataStores`): on a stack, open `ops tunnel` for each store the
 * command reaches, run the command with MONGODB_URI/REDIS_URL pointing at the tunnels, then close them
 * (their pods are deleted) — whether the command succeeded, failed or threw. Atlas sits behind a private
 * endpoint and ElastiCache is VPC-only, so without this an operator juggles a second shell and export lines.
 * On the local target the services already listen on this machine: nothing is opened.
 */
const variableOf: Record<DataStore, 'MONGODB_URI' | 'REDIS_URL'> = { mongodb: 'MONGODB_URI', redis: 'REDIS_URL' };

export interface TunnelRequest {
  command: string;
  stores: DataStore[] | undefined;
  /** The target environment (--env, else $OPS_ENV, else local). */
  envName: string;
  env: NodeJS.ProcessEnv;
  out: Output;
}

export async function runViaTunnels<T>(request: TunnelRequest, body: (env: NodeJS.ProcessEnv) => Promise<T>): Promise<T> {
  const { command, stores, envName, env, out } = request;
  if (!stores?.length) throw new OpsError(`${command} reaches neither MongoDB nor Redis: --via-tunnel has nothing to open`, `${command} --help`, 2);
  if (envName === 'local') {
    out.info('--via-tunnel: the local target\'s services listen on this machine; no tunnel opened');
    return body(env);
  }
  // Loaded here, not at the top: `ops --help` and every other command stay free of the Kubernetes modules.
  const { openKubernetesTunnel } = require('../targets/kubernetes/access') as typeof KubernetesAccess;
  const { freePort } = require('../services/ports') as typeof Ports;
  const controller = new AbortController();
  const open: { store: DataStore; done: Promise<number> }[] = [];
  const closeAll = async () => {
    controller.abort();
    // Each tunnel deletes its pod when its port-forward ends; wait for that before exiting.
    await Promise.allSettled(open.map((t) => t.done));
  };
  const tunneled: NodeJS.ProcessEnv = { ...env };
  try {
    for (const store of stores) {
      const variable = variableOf[store];
      if (env[variable]) out.warn(`--via-tunnel replaces ${variable} from this shell for ${command}`);
      const tunnel = await openKubernetesTunnel(envName, env, { service: store, localPort: await freePort(), signal: controller.signal }, out);
      open.push({ store, done: tunnel.done });
      tunneled[variable] = tunnel.uri;
      out.info(`${variable} → ${tunnel.uri.replace(/\/\/[^@/]*@/, '//…@')} (through pod ${tunnel.pod}; closed when ${command} ends)`);
    }
  } catch (error) {
    await closeAll();
    throw error;
  }
  try {
    return await body(tunneled);
  } finally {
    await closeAll();
  }
}

/** The environment a command targets, read before its own options are parsed (modules that parse their own). */
export function envNameOf(args: string[], values: Record<string, unknown>, env: NodeJS.ProcessEnv): string {
  if (typeof values.env === 'string') return values.env;
  const index = args.findIndex((a) => a === '--env' || a.startsWith('--env='));
  if (index !== -1) {
    const arg = args[index]!;
    const value = arg.startsWith('--env=') ? arg.slice('--env='.length) : args[index + 1];
    if (value) return value;
  }
  return env.OPS_ENV ?? 'local';
}

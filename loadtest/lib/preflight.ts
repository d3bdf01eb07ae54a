import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';

export interface Preflight {
  at: string;
  node: string;
  platform: string;
  cpus: number;
  cpuModel: string;
  loadAverage: number[];
  totalMemMB: number;
  ulimitNoFile: { soft: number | null; hard: number | null };
  localPortRange: [number, number] | null;
  ephemeralPorts: number | null;
  transport: 'websocket';
  /** What the client offers; what was negotiated is recorded per scenario from the live connection. */
  clientPerMessageDeflate: boolean;
  nativeAddons: Record<string, boolean>;
  wsEnv: Record<string, string | undefined>;
  packages: Record<string, string>;
  problems: string[];
}

const tryResolve = (name: string) => {
  try {
    require.resolve(name);
    return true;
  } catch {
    return false;
  }
};

const version = (name: string) => {
  try {
    return (require(`${name}/package.json`) as { version: string }).version;
  } catch {
    return 'absent';
  }
};

function ulimit(flag: '-Sn' | '-Hn'): number | null {
  try {
    const out = execFileSync('sh', ['-c', `ulimit ${flag}`], { encoding: 'utf8' }).trim();
    return out === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(out);
  } catch {
    return null;
  }
}

/** Records what the numbers depend on; `problems` names anything that makes the planned load impossible. */
export function preflight(maxSockets: number): Preflight {
  let range: [number, number] | null = null;
  try {
    const [lo, hi] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (lo && hi) range = [lo, hi];
  } catch { /* not Linux */ }
  const soft = ulimit('-Sn');
  const hard = ulimit('-Hn');
  const problems: string[] = [];
  // The generator holds one fd per socket; each server process holds its own. Leave room for files, mongo and the HTTP pools.
  if (soft !== null && soft < maxSockets + 512) problems.push(`ulimit -n is ${soft}; ${maxSockets} sockets need at least ${maxSockets + 512} (raise it: ulimit -n ${Math.min(hard ?? maxSockets * 2, maxSockets * 2)})`);
  const ephemeral = range ? range[1] - range[0] + 1 : null;
  if (ephemeral !== null && ephemeral < maxSockets + 1024) problems.push(`local port range ${range!.join('-')} has ${ephemeral} ports, fewer than ${maxSockets} sockets need`);
  return {
    at: new Date().toISOString(),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    loadAverage: os.loadavg().map((v) => Math.round(v * 100) / 100),
    totalMemMB: Math.round(os.totalmem() / 2 ** 20),
    ulimitNoFile: { soft, hard },
    localPortRange: range,
    ephemeralPorts: ephemeral,
    transport: 'websocket',
    clientPerMessageDeflate: false,
    nativeAddons: { bufferutil: tryResolve('bufferutil'), 'utf-8-validate': tryResolve('utf-8-validate') },
    wsEnv: { WS_NO_BUFFER_UTIL: process.env.WS_NO_BUFFER_UTIL, WS_NO_UTF_8_VALIDATE: process.env.WS_NO_UTF_8_VALIDATE },
    packages: { 'socket.io': version('socket.io'), 'socket.io-client': version('socket.io-client'), ws: version('ws'), autocannon: version('autocannon'), express: version('express') },
    problems,
  };
}

import path from 'node:path';
import { Toxiproxy, type Proxy } from 'toxiproxy-node-client';
import { requireGoBinary } from './go-binaries';
import { varDir } from './paths';
import { freePort, waitForPort } from './ports';
import { spawnService, type RunningService } from './service-process';

export interface RunningToxiproxy extends RunningService {
  /** The HTTP API client (toxiproxy-node-client, CommonJS). */
  client: Toxiproxy;
  /** A proxy on a free loopback port in front of `upstream` (host:port); returns it and its listen address. */
  proxy(name: string, upstream: string): Promise<{ proxy: Proxy; host: string; port: number }>;
}

/** A Toxiproxy server with its API on a free loopback port; stop() ends it (every proxy goes with it). */
export async function startToxiproxy(options: { logDir?: string } = {}): Promise<RunningToxiproxy> {
  // Built by the provisioning step (ops/services/go-binaries.ts, pinned in versions.ts).
  const binary = requireGoBinary('toxiproxy');
  const port = await freePort();
  const service = await spawnService({
    name: 'toxiproxy',
    command: binary,
    args: ['-host', '127.0.0.1', '-port', String(port)],
    logFile: path.join(options.logDir ?? path.join(varDir, 'log'), `toxiproxy-${port}.log`),
    waitReady: () => waitForPort(port, 15_000),
    address: `http://127.0.0.1:${port}`,
  });
  const client = new Toxiproxy(`http://127.0.0.1:${port}`);
  return {
    ...service,
    client,
    async proxy(name, upstream) {
      const listenPort = await freePort();
      const proxy = await client.createProxy({ name, listen: `127.0.0.1:${listenPort}`, upstream, enabled: true });
      return { proxy, host: '127.0.0.1', port: listenPort };
    },
  };
}

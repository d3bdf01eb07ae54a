import path from 'node:path';
import { Toxiproxy, type Proxy } from 'toxiproxy-node-client';
import { goInstallOnce } from './go-install';
import { cacheDir, varDir } from './paths';
import { freePort, waitForPort } from './ports';
import { spawnService, type RunningService } from './service-process';

/** Pinned: `go list -m -versions` on the proxy lists only up to 2.5.0, but 2.12.0 is published and builds here. */
export const TOXIPROXY_VERSION = 'v2.12.0';
/** The cached Toxiproxy server binary. Override with TOXIPROXY_BINARY. */
export const toxiproxyBinary = process.env.TOXIPROXY_BINARY ?? path.join(cacheDir, `toxiproxy-${TOXIPROXY_VERSION}`, 'bin', 'toxiproxy-server');

/**
 * Builds Toxiproxy's server once with `go install github.com/Shopify/toxiproxy/v2/cmd/server@<pinned>`
 * into the shared cache (about 6 s idle, ~35 s on a busy machine); later and parallel callers reuse it.
 */
export function ensureToxiproxy(): string {
  return goInstallOnce({ what: `Toxiproxy ${TOXIPROXY_VERSION}`, module: 'github.com/Shopify/toxiproxy/v2/cmd/server', version: TOXIPROXY_VERSION, builtName: 'server', target: toxiproxyBinary });
}

export interface RunningToxiproxy extends RunningService {
  /** The HTTP API client (toxiproxy-node-client, CommonJS). */
  client: Toxiproxy;
  /** A proxy on a free loopback port in front of `upstream` (host:port); returns it and its listen address. */
  proxy(name: string, upstream: string): Promise<{ proxy: Proxy; host: string; port: number }>;
}

/** A Toxiproxy server with its API on a free loopback port; stop() ends it (every proxy goes with it). */
export async function startToxiproxy(options: { logDir?: string } = {}): Promise<RunningToxiproxy> {
  const binary = ensureToxiproxy();
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

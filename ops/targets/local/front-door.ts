import fs from 'node:fs';
import path from 'node:path';
import { configSpec } from '../../../core/src/config';
import { run } from '../../process';
import { requireNginx, testNginxConfig } from '../../services/nginx';
import { waitForPort } from '../../services/ports';
import { renderNginxConfig, type MaintenanceSwitch } from './nginx-config';
import { isOurs, spawnDaemon, tail, type DaemonInfo } from './processes';

/** What the front door needs from the local target's state. */
export interface FrontDoorState {
  port: number;
  settings: Record<string, string>;
  nginx?: DaemonInfo & { dir: string };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The local target's nginx: renders its config for a set of upstream ports, checks it (nginx -t), and
 * reloads it, or starts nginx (detached, own prefix directory) when it is not running.
 */
export function frontDoor(options: { nginxDir: string; maintenance: () => MaintenanceSwitch; save: (state: FrontDoorState) => void }) {
  const { nginxDir } = options;
  const conf = path.join(nginxDir, 'nginx.conf');
  const url = (state: FrontDoorState) => `http://127.0.0.1:${state.port}`;

  function render(state: FrontDoorState, ports: number[]): string {
    const n = (key: keyof typeof configSpec) => Number(state.settings[key] ?? configSpec[key].default);
    return renderNginxConfig({
      dir: nginxDir,
      port: state.port,
      upstreamPorts: ports,
      maintenance: options.maintenance(),
      bodyLimitBytes: Math.max(n('HTTP_BODY_LIMIT_BYTES'), n('SOCKET_MAX_BUFFER_BYTES')),
      socketPingWindowMs: n('SOCKET_PING_INTERVAL_MS') + n('SOCKET_PING_TIMEOUT_MS'),
    });
  }

  return {
    conf,
    url,
    running: (state: FrontDoorState) => Boolean(state.nginx && isOurs(state.nginx)),

    /** Points the front door at these instance ports: write, nginx -t, then reload (or start). */
    async apply(state: FrontDoorState, ports: number[]): Promise<void> {
      fs.mkdirSync(path.join(nginxDir, 'logs'), { recursive: true });
      fs.mkdirSync(path.join(nginxDir, 'tmp'), { recursive: true });
      const candidate = `${conf}.next`;
      fs.writeFileSync(candidate, render(state, ports));
      testNginxConfig(candidate);
      fs.renameSync(candidate, conf);
      const nginx = requireNginx();
      if (state.nginx && isOurs(state.nginx)) {
        await run(nginx, ['-p', nginxDir, '-c', conf, '-s', 'reload'], { timeoutMs: 30_000, next: `see ${path.join(nginxDir, 'logs', 'error.log')}` });
        return;
      }
      state.nginx = { ...spawnDaemon(nginx, ['-p', nginxDir, '-c', conf], { cwd: nginxDir, env: { PATH: process.env.PATH }, log: path.join(nginxDir, 'logs', 'stderr.log'), marker: conf }), dir: nginxDir };
      options.save(state);
      try {
        await waitForPort(state.port, 10_000);
      } catch (error) {
        throw new Error(`nginx did not start on 127.0.0.1:${state.port} (${(error as Error).message}); is the port taken? Set OPS_LOCAL_PORT.\n  log: ${state.nginx.log}\n${tail(state.nginx.log)}`, { cause: error });
      }
    },

    /**
     * `nginx -s reload` only signals the master: old workers keep answering for a moment. Polls a page
     * only nginx answers in maintenance (503 text/html; the core has no page at /) until `needed`
     * answers in a row agree with the switch, so `ops maintenance on|off` returns once it is true.
     */
    async awaitMaintenance(state: FrontDoorState, on: boolean, timeoutMs = 10_000, needed = 5): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      let streak = 0;
      let last = '';
      while (Date.now() < deadline) {
        try {
          const response = await fetch(`${url(state)}/`, { signal: AbortSignal.timeout(2_000), headers: { accept: 'text/html', connection: 'close' } });
          await response.arrayBuffer();
          const page = response.status === 503 && (response.headers.get('content-type') ?? '').startsWith('text/html');
          last = `${response.status} ${response.headers.get('content-type') ?? ''}`;
          streak = page === on ? streak + 1 : 0;
          if (streak >= needed) return;
        } catch (error) {
          last = (error as Error).message;
          streak = 0;
        }
        await sleep(20);
      }
      throw new Error(`the front door ${url(state)} does not answer with maintenance ${on ? 'on' : 'off'} yet (last: GET / ${last}); see ${path.join(nginxDir, 'logs', 'error.log')}`);
    },

    /** Polls /health through the front door until `needed` answers in a row come from `version` (any when undefined). */
    async verify(state: FrontDoorState, version: string | undefined, timeoutMs = 10_000, needed = 5): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      let streak = 0;
      let last = '';
      while (Date.now() < deadline) {
        try {
          const response = await fetch(`${url(state)}/health`, { signal: AbortSignal.timeout(2_000), headers: { connection: 'close' } });
          const body = (await response.json()) as { version?: string };
          last = `${response.status} version ${body.version}`;
          streak = response.status === 200 && (version === undefined || body.version === version) ? streak + 1 : 0;
          if (streak >= needed) return;
        } catch (error) {
          last = (error as Error).message;
          streak = 0;
        }
        await sleep(20);
      }
      throw new Error(`the front door ${url(state)} did not answer${version ? ` with ${version}` : ''} (last: ${last})`);
    },
  };
}

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CommandError, runSync } from '../process';
import { waitForPort } from './ports';
import { spawnService, type RunningService } from './service-process';
import { requireCommand } from './system-packages';

export interface NginxInstance extends RunningService {
  /** Directory holding nginx.conf; rewrite files there and call reload(). */
  dir: string;
  reload(): void;
}

/** Absolute path of the provisioned nginx binary. */
export const requireNginx = (): string => requireCommand('nginx');

/** `nginx -t` on a config file; throws with nginx's own message when the config is wrong. */
export function testNginxConfig(configFile: string): void {
  const nginx = requireNginx();
  try {
    runSync(nginx, ['-t', '-q', '-p', path.dirname(configFile), '-c', configFile], { timeoutMs: 30_000 });
  } catch (error) {
    const stderr = error instanceof CommandError ? error.stderrTail : (error as Error).message;
    throw new Error(`nginx -t rejected ${configFile}:\n${stderr}`, { cause: error });
  }
}

/**
 * Runs a private nginx (foreground, its own prefix directory) with the given main config text,
 * listening on `port`. The config must use `daemon off;` and paths inside `dir` (see {@link nginxPrefixDirectives}).
 */
export async function startNginx(options: { port: number; config: (dir: string) => string; dir?: string }): Promise<NginxInstance> {
  const nginx = requireNginx();
  const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-nginx-'));
  fs.mkdirSync(path.join(dir, 'logs'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'tmp'), { recursive: true });
  const configFile = path.join(dir, 'nginx.conf');
  fs.writeFileSync(configFile, options.config(dir));
  testNginxConfig(configFile);
  const service = await spawnService({
    name: 'nginx',
    command: nginx,
    args: ['-p', dir, '-c', configFile],
    logFile: path.join(dir, 'logs', 'stderr.log'),
    waitReady: () => waitForPort(options.port, 10_000),
    address: `http://127.0.0.1:${options.port}`,
  });
  return {
    ...service,
    dir,
    reload() {
      testNginxConfig(configFile);
      runSync(nginx, ['-p', dir, '-c', configFile, '-s', 'reload'], { timeoutMs: 30_000, next: `see ${dir}/logs/error.log` });
    },
  };
}

/** Directives every private nginx config needs so that it runs unprivileged in its own directory. */
export function nginxPrefixDirectives(dir: string): string {
  return [
    'daemon off;',
    'worker_processes 1;',
    `pid ${dir}/nginx.pid;`,
    `error_log ${dir}/logs/error.log warn;`,
  ].join('\n');
}

export function nginxHttpTempDirectives(dir: string): string {
  return [
    `access_log ${dir}/logs/access.log;`,
    `client_body_temp_path ${dir}/tmp/body;`,
    `proxy_temp_path ${dir}/tmp/proxy;`,
    `fastcgi_temp_path ${dir}/tmp/fastcgi;`,
    `uwsgi_temp_path ${dir}/tmp/uwsgi;`,
    `scgi_temp_path ${dir}/tmp/scgi;`,
  ].join('\n');
}

import fs from 'node:fs';
import path from 'node:path';
import { freePort, waitForPort } from './ports';
import { spawnService, type RunningService } from './service-process';
import { requireCommand } from './system-packages';

export interface RunningAlertmanager extends RunningService {
  url: string;
}

/**
 * A real Alertmanager (Debian prometheus-alertmanager) on a free loopback port, clustering off,
 * its data and log in `workDir`. Used by the routing tests and the fire drill.
 */
export async function startAlertmanager(configFile: string, workDir: string, name = 'alertmanager'): Promise<RunningAlertmanager> {
  const bin = requireCommand('prometheus-alertmanager');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  fs.mkdirSync(path.join(workDir, `${name}-data`), { recursive: true });
  const service = await spawnService({
    name: `${name} :${port}`,
    command: bin,
    args: [`--config.file=${configFile}`, `--storage.path=${path.join(workDir, `${name}-data`)}`, `--web.listen-address=127.0.0.1:${port}`, '--cluster.listen-address=', '--log.level=warn'],
    logFile: path.join(workDir, `${name}.log`),
    waitReady: async () => {
      await waitForPort(port, 30_000);
      const deadline = Date.now() + 30_000;
      while (!(await fetch(`${url}/-/ready`).then((r) => r.ok, () => false))) {
        if (Date.now() > deadline) throw new Error(`${url}/-/ready did not answer 200 within 30 s`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    address: url,
  });
  return { ...service, url };
}

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startTestCore, type TestCore } from '../../core/test/harness';
import { startNginx, type NginxInstance } from '../services/nginx';
import { freePort } from '../services/ports';
import { renderNginxConfig } from '../targets/local/nginx-config';

const run = promisify(execFile);

/**
 * The local front door (the nginx.conf `ops deploy` writes) in front of a real core: no spelling of
 * the metrics path reaches metrics, because the core serves them only on its internal listener.
 */
let core: TestCore;
let nginx: NginxInstance;

beforeAll(async () => {
  core = await startTestCore();
  const port = await freePort();
  nginx = await startNginx({
    port,
    config: (dir) => renderNginxConfig({ dir, port, upstreamPorts: [core.core.port], maintenance: { on: false, message: 'Back soon', retryAfter: 60 }, bodyLimitBytes: 65_536, socketPingWindowMs: 45_000 }),
  });
});
afterAll(async () => {
  await nginx?.stop();
  await core?.stop();
});

/** curl exactly as typed (--path-as-is: no dot-segment clean-up), returning status and body. */
async function curl(base: string, path: string): Promise<{ status: number; body: string }> {
  const { stdout } = await run('curl', ['-s', '--path-as-is', '-o', '-', '-w', '\n%{http_code}', `${base}${path}`], { timeout: 10_000 });
  const at = stdout.lastIndexOf('\n');
  return { status: Number(stdout.slice(at + 1)), body: stdout.slice(0, at) };
}

const spellings = ['/metrics', '/metrics/', '/METRICS', '/Metrics', '/metrics?x', '/metrics?format=prometheus', '//metrics', '/./metrics', '/api/../metrics', '/%6Detrics', '/metrics%2F', '/metrics;x', '/metrics.txt'];

it('curl through the local front door finds no metrics on any spelling of the path', async () => {
  const found: string[] = [];
  for (const path of spellings) {
    const { status, body } = await curl(nginx.address, path);
    if (status === 200 || /chat_|# HELP|# TYPE/.test(body)) found.push(`${path} → ${status}`);
  }
  expect(found).toEqual([]);
  // The same spellings on the core's public port directly: nothing either.
  for (const path of spellings) expect(/# HELP/.test((await curl(core.url, path)).body)).toBe(false);
  // Where they are: the internal listener (not behind the front door).
  const internal = await curl(core.core.metricsUrl, '/metrics');
  expect(internal.status).toBe(200);
  expect(internal.body).toContain('# HELP chat_socket_connections');
});

it('public /health and /ready through the front door reveal no load figures or dependency errors', async () => {
  const health = JSON.parse((await curl(nginx.address, '/health')).body) as Record<string, unknown>;
  expect(Object.keys(health).sort()).toEqual(['draining', 'instance', 'maintenance', 'status', 'version']);
  expect(JSON.parse((await curl(nginx.address, '/ready')).body)).toEqual({ ready: true });
});

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTestCore, type TestCore } from './harness';

/**
 * Serving the reference web client: only when WEB_CLIENT_DIR is set (production serves nothing
 * unless configured), a directory that was never built answers 503 naming the build command, and
 * the page's CSP is helmet's without upgrade-insecure-requests (plain http in development).
 */
const cores: TestCore[] = [];
const dirs: string[] = [];
afterAll(async () => {
  for (const core of cores) await core.stop().catch(() => undefined);
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

const tempDir = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-webdir-'));
  dirs.push(dir);
  return dir;
};
const start = async (env: Record<string, string> = {}) => {
  const core = await startTestCore(env);
  cores.push(core);
  return core;
};

describe('reference web client serving', () => {
  it('is not served unless WEB_CLIENT_DIR is set', async () => {
    const core = await start();
    for (const p of ['/app/', '/app/index.html']) {
      const response = await core.api(null, 'GET', p);
      expect({ p, status: response.status, code: response.body.code }).toEqual({ p, status: 404, code: 'not_found' });
    }
    // `/` leads to the API docs instead (on by default; core/test/api-docs.test.ts covers API_DOCS=false).
    const root = await fetch(`${core.url}/`, { redirect: 'manual' });
    expect({ status: root.status, location: root.headers.get('location') }).toEqual({ status: 302, location: '/api/docs' });
  });

  it('serves the directory at /app/ with a CSP for plain http, and / redirects there', async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>t</title>');
    fs.writeFileSync(path.join(dir, 'app.js'), 'export {};');
    const core = await start({ WEB_CLIENT_DIR: dir });
    const page = await fetch(`${core.url}/app/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<title>t</title>');
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('upgrade-insecure-requests');
    expect((await fetch(`${core.url}/app/app.js`)).headers.get('content-type')).toMatch(/javascript/);
    const root = await fetch(`${core.url}/`, { redirect: 'manual' });
    expect(root.status).toBe(302);
    expect(root.headers.get('location')).toBe('/app/');
    expect((await core.api(null, 'GET', '/app/missing.js')).status).toBe(404);
  });

  it('answers 503 naming the build command when the directory holds no build', async () => {
    const core = await start({ WEB_CLIENT_DIR: tempDir() });
    const response = await core.api(null, 'GET', '/app/');
    expect(response.status).toBe(503);
    expect(response.body.code).toBe('unavailable');
    expect(response.body.detail).toContain('npm run build:client');
  });
});

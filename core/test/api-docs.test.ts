import fs from 'node:fs';
import path from 'node:path';
import { apiDocsAssets, apiDocsPath } from '../src/http/api-docs';
import { startTestCore, type TestCore } from './harness';

/**
 * The browsable API docs at /api/docs (API_DOCS, on by default): a page, its init script and the
 * renderer's files from node_modules, without a token, under a CSP of their own that allows this
 * origin only; off, the path answers 404 for everyone. Rendering in a browser:
 * core/client/test/api-docs.e2e.test.ts.
 */
const cores: TestCore[] = [];
afterAll(async () => {
  for (const core of cores) await core.stop().catch(() => undefined);
});
const start = async (env: Record<string, string> = {}) => {
  const core = await startTestCore(env);
  cores.push(core);
  return core;
};

/** CSP header → { directive: sources }. */
const directives = (csp: string | null) =>
  Object.fromEntries((csp ?? '').split(';').map((d) => d.trim().split(/\s+/)).filter((d) => d[0]).map(([name, ...sources]) => [name, sources]));

describe('API docs page', () => {
  it('serves the page, its script and the renderer files without a token, under a CSP of its own', async () => {
    const core = await start();
    const page = await fetch(`${core.url}/api/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    const referenced = [...html.matchAll(/(?:src|href)="(\/api\/[^"]+)"/g)].map((m) => m[1]);
    expect(referenced).toEqual(expect.arrayContaining(['/api/docs/swagger-ui.css', '/api/docs/swagger-ui-bundle.js', '/api/docs/init.js']));
    expect(html).not.toMatch(/<script>|<script [^>]*>[^<]/); // no inline script: script-src stays 'self'
    expect(html).not.toMatch(/https?:\/\//); // nothing from elsewhere (no CDN)

    const csp = directives(page.headers.get('content-security-policy'));
    expect(csp).toEqual({
      'default-src': ["'none'"],
      'script-src': ["'self'"],
      'style-src': ["'self'"],
      'img-src': ["'self'", 'data:'],
      'connect-src': ["'self'"],
      'base-uri': ["'none'"],
      'form-action': ["'none'"],
      'frame-ancestors': ["'none'"],
    });

    const init = await fetch(`${core.url}/api/docs/init.js`);
    expect(init.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(await init.text()).toContain('"/api/openapi.json"');

    for (const [file, type] of [['swagger-ui-bundle.js', /javascript/], ['swagger-ui.css', /^text\/css/]] as const) {
      const response = await fetch(`${core.url}/api/docs/${file}`);
      expect({ file, status: response.status }).toEqual({ file, status: 200 });
      expect(response.headers.get('content-type')).toMatch(type);
      const body = Buffer.from(await response.arrayBuffer());
      expect(body.equals(fs.readFileSync(path.join(path.dirname(require.resolve('swagger-ui-dist/package.json')), file)))).toBe(true);
      expect(response.headers.get('content-security-policy')).toBe(page.headers.get('content-security-policy'));
      // Revalidation answers 304 (fetch would add `cache-control: no-cache` to a conditional request on its own).
      const again = await fetch(`${core.url}/api/docs/${file}`, { headers: { 'if-none-match': response.headers.get('etag')!, 'cache-control': 'max-age=0' } });
      expect(again.status).toBe(304);
    }
    expect([...apiDocsAssets].sort()).toEqual(['swagger-ui-bundle.js', 'swagger-ui.css']);

    // Only those files of the package: not its sample page (it loads petstore.swagger.io), source maps or OAuth page.
    for (const other of ['index.html', 'swagger-ui-bundle.js.map', 'oauth2-redirect.html', 'package.json']) {
      const response = await core.api(null, 'GET', `/api/docs/${other}`);
      expect({ other, status: response.status, code: response.body.code }).toEqual({ other, status: 404, code: 'not_found' });
    }
    // The docs' policy is scoped to /api/docs: the rest keeps helmet's default.
    const spec = await fetch(`${core.url}/api/openapi.json`);
    expect(directives(spec.headers.get('content-security-policy'))).toMatchObject({ 'default-src': ["'self'"], 'upgrade-insecure-requests': [] });
    // With no web client served, `/` leads here.
    const root = await fetch(`${core.url}/`, { redirect: 'manual' });
    expect({ status: root.status, location: root.headers.get('location') }).toEqual({ status: 302, location: '/api/docs' });
  });

  it('is linked from the reference web client', () => {
    const html = fs.readFileSync(path.join(__dirname, '..', 'client', 'web', 'index.html'), 'utf8');
    expect(html).toContain(`href="${apiDocsPath}"`);
  });

  it('answers 404 (not the API 401) with API_DOCS=false, and / is a 404 then', async () => {
    const core = await start({ API_DOCS: 'false' });
    for (const p of ['/api/docs', '/api/docs/', '/api/docs/swagger-ui-bundle.js', '/']) {
      const response = await core.api(null, 'GET', p);
      expect({ p, status: response.status, code: response.body.code }).toEqual({ p, status: 404, code: 'not_found' });
    }
    expect((await fetch(`${core.url}/api/openapi.json`)).status).toBe(200);
  });
});

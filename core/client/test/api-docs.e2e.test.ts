import fs from 'node:fs';
import path from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { requireCommand } from '../../../ops/services/system-packages';
import { startTestCore, type TestCore } from '../../test/harness';

/**
 * The browsable API docs (/api/docs, Swagger UI served by the core) in headless Chromium (Debian's,
 * driven by puppeteer-core): every operation of the document the core serves at /api/openapi.json is
 * rendered with its method, path and summary, under the page's own CSP with not one violation (a
 * directive the renderer needs and the policy lacks shows up here), without an uncaught error and
 * without a request anywhere but the core; "Authorize" plus "Try it out" calls the API with the token.
 * Screenshot: var/screenshots/api-docs.png.
 */
const repoRoot = path.join(__dirname, '..', '..', '..');
const screenshotPath = path.join(repoRoot, 'var', 'screenshots', 'api-docs.png');

let core: TestCore | undefined;
let browser: Browser | undefined;
const pageErrors: string[] = [];
const consoleLines: string[] = [];

beforeAll(async () => {
  // Missing browser: fails here, naming `npm run services -- provision` (never skipped).
  const chromium = requireCommand('chromium');
  core = await startTestCore();
  browser = await puppeteer.launch({
    executablePath: chromium,
    headless: true,
    // root (CI containers) cannot use Chromium's sandbox; /dev/shm is small in containers
    args: [...(process.getuid?.() === 0 ? ['--no-sandbox'] : []), '--disable-dev-shm-usage', '--disable-gpu'],
  });
}, 120_000);

afterAll(async () => {
  // Each step on its own: a failure in one must not leave the browser or the core running.
  await browser?.close().catch(() => browser?.process()?.kill('SIGKILL'));
  await core?.stop().catch(() => undefined);
}, 60_000);

interface Operation {
  method: string;
  path: string;
  summary: string;
}

/** What the page shows of each operation (evaluated on <body>: this file is type-checked without the DOM lib). */
const rendered = (page: Page): Promise<Operation[]> =>
  page.$eval('body', (body) => [...body.querySelectorAll('.opblock')].map((op) => ({
    method: (op.querySelector('.opblock-summary-method')?.textContent ?? '').trim().toLowerCase(),
    path: op.querySelector('.opblock-summary-path')?.getAttribute('data-path') ?? '',
    summary: (op.querySelector('.opblock-summary-description')?.textContent ?? '').trim(),
  })));

const byKey = (ops: Operation[]) => ops.map((op) => `${op.method} ${op.path} — ${op.summary}`).sort();

test('the docs page renders every operation of /api/openapi.json, within its CSP', async () => {
  const spec = await (await fetch(`${core!.url}/api/openapi.json`)).json() as { paths: Record<string, Record<string, { summary?: string }>> };
  const expected = Object.entries(spec.paths).flatMap(([p, operations]) =>
    Object.entries(operations).map(([method, op]) => ({ method, path: p, summary: op.summary ?? '' })));
  expect(expected.length).toBeGreaterThan(10);

  const page = await browser!.newPage();
  page.on('pageerror', (error) => pageErrors.push(String(error)));
  page.on('console', (message) => consoleLines.push(`${message.type()}: ${message.text()}`));
  const requested: string[] = [];
  page.on('request', (request) => requested.push(request.url()));
  // Collected in the page from the first script on (DevTools injects this; the page's CSP does not apply to it).
  await page.evaluateOnNewDocument(() => {
    const w = globalThis as unknown as { cspViolations: string[]; addEventListener: (type: string, fn: (e: { violatedDirective: string; blockedURI: string }) => void) => void };
    w.cspViolations = [];
    w.addEventListener('securitypolicyviolation', (e) => w.cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  await page.setViewport({ width: 1280, height: 900 });
  const response = await page.goto(`${core!.url}/api/docs`, { waitUntil: 'load' });
  expect(response?.status()).toBe(200);
  const why = () => `page errors: ${JSON.stringify(pageErrors)}; console: ${JSON.stringify(consoleLines.slice(-10))}`;
  try {
    await page.waitForFunction((n: number) => (globalThis as unknown as { document: { querySelectorAll(s: string): { length: number } } }).document.querySelectorAll('.opblock').length >= n, { timeout: 30_000 }, expected.length);
  } catch (error) {
    throw new Error(`the docs page did not render ${expected.length} operations within 30 s: ${String(error)}; ${why()}`, { cause: error });
  }
  expect(byKey(await rendered(page))).toEqual(byKey(expected));
  expect(await page.$eval('body', (body) => body.querySelector('.info .title')?.textContent ?? '')).toContain('Switchboard');

  fs.mkdirSync(path.dirname(screenshotPath), { recursive: true });
  await page.screenshot({ path: screenshotPath as `${string}.png`, fullPage: true });

  // Open one operation (parameters, request body, responses with schemas and examples): still within the CSP.
  const send = await page.$('.opblock-post .opblock-summary-path[data-path="/api/conversations/{id}/messages"]');
  expect(send).not.toBeNull();
  await send!.click();
  await page.waitForSelector('.opblock.is-open .responses-wrapper', { timeout: 10_000 });

  // "Authorize" with a bearer token, then "Try it out" on GET /api/conversations: the call goes to this
  // origin with the token (connect-src 'self') and the page shows the core's answer.
  const created = await core!.api('alice', 'POST', '/api/conversations', { type: 'group', name: 'docs-try-it-out', memberIds: ['bob'] });
  expect(created.status).toBe(201);
  await page.click('.auth-wrapper .authorize');
  await page.waitForSelector('.dialog-ux .modal-ux input', { timeout: 10_000 });
  await page.type('.dialog-ux .modal-ux input', await core!.token('alice'));
  await page.click('.dialog-ux .auth-btn-wrapper .authorize');
  await page.click('.dialog-ux .close-modal');
  const list = '.opblock-get:has(.opblock-summary-path[data-path="/api/conversations"])';
  await page.click(`${list} .opblock-summary-control`);
  await page.click(`${list} .try-out__btn`);
  await page.click(`${list} .execute`);
  await page.waitForSelector(`${list} .live-responses-table tr.response .response-col_status`, { timeout: 10_000 });
  const live = await page.$eval(list, (op) => ({
    status: (op.querySelector('.live-responses-table tr.response .response-col_status')?.textContent ?? '').trim(),
    body: op.querySelector('.live-responses-table tr.response .response-col_description')?.textContent ?? '',
  }));
  expect(live.status).toBe('200');
  expect(live.body).toContain('docs-try-it-out');
  await page.click('.models .json-schema-2020-12-expand-deep-button'); // OpenAPI 3.1: JSON Schema 2020-12 view
  await page.waitForSelector('.models .json-schema-2020-12-body:not(.json-schema-2020-12-body--collapsed) .json-schema-2020-12-property', { timeout: 10_000 });

  expect(await page.evaluate(() => (globalThis as unknown as { cspViolations: string[] }).cspViolations)).toEqual([]);
  expect(pageErrors).toEqual([]);
  // Nothing from elsewhere (no CDN, no validator, no analytics): every request went to the core.
  expect(requested.filter((url) => !url.startsWith(`${core!.url}/`) && !url.startsWith('data:'))).toEqual([]);
  expect(requested).toEqual(expect.arrayContaining([`${core!.url}/api/docs/swagger-ui-bundle.js`, `${core!.url}/api/openapi.json`, `${core!.url}/api/conversations?limit=20`]));
  await page.close();
}, 90_000);

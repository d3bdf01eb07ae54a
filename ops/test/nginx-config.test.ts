import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { testNginxConfig } from '../services/nginx';
import { runSync } from '../process';
import { requirePythonTool } from '../services/python-tools';
import { renderNginxConfig, type FrontDoorConfig } from '../targets/local/nginx-config';

let dir: string;
const base = (): FrontDoorConfig => ({
  dir,
  port: 18080,
  upstreamPorts: [41001, 41002],
  maintenance: { on: false, message: 'Back soon', retryAfter: 120 },
  bodyLimitBytes: 65_536,
  socketPingWindowMs: 45_000,
});
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ops-nginx-'));
  fs.mkdirSync(path.join(dir, 'logs'));
  fs.mkdirSync(path.join(dir, 'tmp'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const write = (config: FrontDoorConfig, name: string) => {
  const file = path.join(dir, name);
  fs.writeFileSync(file, renderNginxConfig(config));
  return file;
};

test.each([
  ['serving', false],
  ['maintenance', true],
])('the %s config passes nginx -t and gixy-ng with no findings', (name, on) => {
  const file = write({ ...base(), maintenance: { on, message: 'We\'ll be back at 10:00 $now; {x} "q" \\ é <b>', retryAfter: 90 } }, `${name}.conf`);
  expect(() => testNginxConfig(file)).not.toThrow();
  const report = runSync(requirePythonTool('gixy'), [file], { timeoutMs: 60_000 }).stdout;
  for (const level of ['Unspecified', 'Low', 'Medium', 'High']) expect(report).toMatch(new RegExp(`${level}: 0`));
});

test('WebSocket upgrade, proxy timeouts above the Socket.IO ping window, body limit, security headers', () => {
  const text = renderNginxConfig(base());
  expect(text).toContain('proxy_set_header Upgrade $http_upgrade;');
  expect(text).toContain('proxy_set_header Connection $connection_upgrade;');
  const readTimeout = Number(/proxy_read_timeout (\d+)s;/.exec(text)?.[1]);
  expect(readTimeout * 1000).toBeGreaterThan(45_000);
  expect(text).toContain('client_max_body_size 64k;');
  for (const header of ['X-Content-Type-Options', 'X-Frame-Options', 'Referrer-Policy', 'Content-Security-Policy']) expect(text).toContain(`add_header ${header}`);
  expect(text).toContain('server 127.0.0.1:41001');
  expect(text).toContain('server 127.0.0.1:41002');
  // The core has no /metrics on the port nginx proxies to, so the edge needs no rule for it.
  expect(text).not.toMatch(/metrics \{/);
});

test('maintenance answers 503 with Retry-After: problem+json for /api and /socket.io, HTML for pages; /health and /ready still proxied', () => {
  const text = renderNginxConfig({ ...base(), maintenance: { on: true, message: 'Quote " and $var', retryAfter: 30 } });
  expect(text).toMatch(/location \/api\/ \{[^}]*Retry-After "30" always;[^}]*default_type application\/problem\+json;\s+return 503/);
  expect(text).toMatch(/location \/socket\.io\/ \{[^}]*return 503 '\{"type"/);
  expect(text).toMatch(/location \/ \{[^}]*default_type text\/html;/);
  expect(text).toMatch(/location = \/health \{\s+proxy_pass/);
  expect(text).toMatch(/location = \/ready \{\s+proxy_pass/);
  // User text can never close the string or inject a variable.
  expect(text).toContain('Quote \\u0022 and \\u0024var');
  expect(text).toContain('Quote &#34; and &#36;var');
  const json = /return 503 '(\{.*\})';/.exec(text)![1]!;
  expect(JSON.parse(json)).toMatchObject({ code: 'maintenance', detail: 'Quote " and $var', retryAfter: 30, status: 503 });
});

test('refuses to render without an upstream', () => {
  expect(() => renderNginxConfig({ ...base(), upstreamPorts: [] })).toThrow(/at least one upstream/);
});

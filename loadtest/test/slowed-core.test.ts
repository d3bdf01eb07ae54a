import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EXIT } from '../lib/gate';

/**
 * The gate against a deliberately slowed core: the probe preload (loadtest/servers/probe.ts) delays
 * every HTTP request and every inbound WebSocket message of the core by 1 s, without touching core/.
 * The smoke profile is judged by the short profile's targets; the gate must exit with the breach code
 * and name API and delivery lines.
 */
describe('gate against a deliberately slowed core', () => {
  const mongo = process.env.TEST_MONGODB_URI;
  (mongo ? it : it.skip)('fails with the breach exit code and names the breached lines', () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'loadtest-slowed-'));
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'loadtest/cli.ts', '--profile', 'smoke', '--inject-delay-ms', '1000', '--confirm', '0', '--out', out], {
      cwd: path.resolve(__dirname, '..', '..'),
      env: { ...process.env, MONGODB_URI: mongo },
      encoding: 'utf8',
      timeout: 170_000,
    });
    const stderr = run.stderr ?? '';
    expect({ status: run.status, tail: stderr.split('\n').slice(-15).join('\n') }).toMatchObject({ status: EXIT.breach });
    expect(stderr).toMatch(/GATE FAIL: breached/);
    const json = fs.readdirSync(out).find((f) => f.endsWith('-smoke.json'))!;
    const report = JSON.parse(fs.readFileSync(path.join(out, json), 'utf8'));
    const breached: string[] = report.gate.breached.map((l: { line: string }) => l.line);
    expect(breached).toEqual(expect.arrayContaining(['api.list p95 ≤ ' + lineMax(report, 'api.list', 'p95'), 'rt.1k.core deliveryP95 ≤ ' + lineMax(report, 'rt.1k.core', 'deliveryP95')]));
    expect(fs.existsSync(path.join(out, json.replace('.json', '.md')))).toBe(true);
    expect(fs.existsSync(path.join(out, json.replace('.json', '.svg')))).toBe(true);
    fs.rmSync(out, { recursive: true, force: true });
  }, 180_000);
});

/**
 * The gate's regression lines against a core that costs ~3× the CPU: the probe burns 2 ms of CPU on every
 * HTTP request and inbound WebSocket message (the core's own cost is ~1-1.7 ms per request or message at
 * the short profile's rates). The short profile (the real gate's loads and lines), list endpoint and
 * sockets only, must fail on the same-run CPU ratios, which are judged even when neighbours starve the
 * machine. Sockets are judged per message *acked* at 300 msg/s: this test was skipped on 12-06 while
 * the line was per message sent at 100 msg/s, where the +2 ms core kept up at only 1.6× the cost and
 * its ratio (6.7-8.2) sat under the line, or fell behind and looked cheaper per message sent (it
 * acked 2.4 of 100 msg/s and the gate exited 0). Measurements: loadtest/README.md "The gate's CPU lines".
 */
describe('gate against a core that costs ~3× the CPU per request', () => {
  const mongo = process.env.TEST_MONGODB_URI;
  (mongo ? it : it.skip)('fails on the CPU-per-request and CPU-per-acked-message ratio lines', () => {
    const { status, tail, report, out } = shortGate(mongo!, 'loadtest-cpu-', ['--inject-cpu-ms', '2']);
    expect({ status, tail }).toMatchObject({ status: EXIT.breach });
    const breached: string[] = report.gate.breached.map((l: { scenario: string; metric: string }) => `${l.scenario} ${l.metric}`);
    // The list endpoint: its CPU ratio, or, when the rest of the suite starves the machine and the bare
    // route's own CPU per request inflates, the throughput it could not serve.
    const listCaught = breached.includes('api.list cpuPerRequestRatioToBaseline') || breached.includes('api.list throughputRatio');
    expect({ breached, listCaught }).toMatchObject({ listCaught: true, breached: expect.arrayContaining(['rt.1k.core cpuPerHandledMessageRatioToBaseline']) });
    fs.rmSync(out, { recursive: true, force: true });
  }, 300_000);
});

/**
 * The gate's allocation lines against a core that allocates ~60 KB more per HTTP request and inbound
 * WebSocket message (the probe's LOADTEST_INJECT_ALLOC_KB: short-lived garbage, little CPU). Against
 * the recorded runs of main (loadtest/history/short.json) the listing allocates ~8.5× the bare route and
 * a message ~4.1× the relay's, steady to ±3 %; the lines sit at 1.25× the median. Measured 16:20 on
 * 12-07: 14.0× and 5.9×, while the CPU lines passed: only the allocation lines notice this core.
 */
describe('gate against a core that allocates ~60 KB more per request and message', () => {
  const mongo = process.env.TEST_MONGODB_URI;
  (mongo ? it : it.skip)('fails on the history lines of allocation per request and per acked message', () => {
    const { status, tail, report, out } = shortGate(mongo!, 'loadtest-alloc-', ['--inject-alloc-kb', '60', '--confirm', '0']);
    expect({ status, tail }).toMatchObject({ status: EXIT.breach });
    const breached: string[] = report.gate.breached.map((l: { line: string }) => l.line);
    expect(breached).toEqual(expect.arrayContaining([
      expect.stringMatching(/^history api\.list allocPerRequestRatioToBaseline/),
      expect.stringMatching(/^history rt\.1k\.core allocPerMessageRatioToBaseline/),
    ]));
    expect(report.notes.join('\n')).toMatch(/LOADTEST_INJECT_ALLOC_KB=60/);
    fs.rmSync(out, { recursive: true, force: true });
  }, 300_000);
});

/** The short profile's gate (`--only api.list,rt`) against a core made costlier by `extra`; the report, when there is one. */
function shortGate(mongo: string, prefix: string, extra: string[]) {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'loadtest/cli.ts', '--profile', 'short', '--only', 'api.list,rt', ...extra, '--out', out], {
    cwd: path.resolve(__dirname, '..', '..'),
    env: { ...process.env, MONGODB_URI: mongo },
    encoding: 'utf8',
    timeout: 280_000,
  });
  const stderr = run.stderr ?? '';
  const json = fs.readdirSync(out).find((f) => f.endsWith('-short.json'));
  const report = json ? JSON.parse(fs.readFileSync(path.join(out, json), 'utf8')) : undefined;
  return { status: run.status, tail: stderr.split('\n').slice(-15).join('\n'), report, out };
}

function lineMax(report: any, scenario: string, metric: string): string {
  const line = report.gate.lines.find((l: any) => l.scenario === scenario && l.metric === metric);
  return line.limit.replace('≤ ', '');
}

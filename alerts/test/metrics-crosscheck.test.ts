import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { metricNames, runtimeMetricNames } from '../../core/src/telemetry/metric-names';
import { startTestCore, type TestCore } from '../../core/test/harness';
import { externalMetricNames, prometheusSyntheticMetrics } from '../external-metrics';
import { bornWithin } from '../promql';
import type { MetricRef } from '../promql-refs';
import { committedRules, shippedExpressions } from './expressions';

/**
 * Every metric a rule or a panel reads is exported by a REAL core (scraped from /metrics after a
 * little traffic), is named in core/src/telemetry/metric-names.ts, and is read the right way:
 * counters only through rate/increase over a range, histograms only through their series.
 */
interface Exposition {
  types: Map<string, string>;
  /** sample name -> label names seen on it */
  samples: Map<string, Set<string>>;
}

function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const samples = new Map<string, Set<string>>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)/.exec(line);
    if (type) types.set(type[1] as string, type[2] as string);
    const sample = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})? /.exec(line);
    if (!sample) continue;
    const labels = samples.get(sample[1] as string) ?? new Set<string>();
    for (const l of (sample[2] ?? '').matchAll(/([A-Za-z_][A-Za-z0-9_]*)="/g)) labels.add(l[1] as string);
    samples.set(sample[1] as string, labels);
  }
  return { types, samples };
}

let core: TestCore;
let exposition: Exposition;
let webhook: http.Server | undefined;
let webhookCalls = 0;

const until = async (what: string, timeoutMs: number, check: () => Promise<boolean>) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`warm-up: no ${what} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
};
const scrape = async () => {
  const response = await fetch(`${core.core.metricsUrl}/metrics`);
  expect(response.status).toBe(200);
  return response.text();
};

beforeAll(async () => {
  // The offline-notification webhook: a local receiver that accepts every delivery.
  webhook = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      webhookCalls++;
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => webhook!.listen(0, '127.0.0.1', resolve));
  const webhookUrl = `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/notify`;
  core = await startTestCore(
    {
      // Low message limit so a rejection (scope=message) gets a labelled series.
      RATE_LIMIT_MESSAGES_PER_MIN: '2',
      // Job series (job, outcome) appear with a run: retention on every minute, so one runs during the warm-up.
      MESSAGE_RETENTION_DAYS: '30',
      RETENTION_SCHEDULE: '* * * * *',
      // Notification series (outcome, result) appear with a delivery to an offline member.
      NOTIFICATION_WEBHOOK_URL: webhookUrl,
      NOTIFICATION_WEBHOOK_SECRET: 'crosscheck-webhook-secret',
      // Attachment series (outcome) appear with a presign (signed locally, no object store is
      // contacted) and a rejection; the endpoint is a closed loopback port.
      S3_BUCKET: 'crosscheck',
      S3_ENDPOINT: 'http://127.0.0.1:9',
      S3_ACCESS_KEY_ID: 'crosscheck',
      S3_SECRET_ACCESS_KEY: 'crosscheck-secret',
      ATTACHMENT_MAX_BYTES: '1000',
    },
    { redis: true },
  );
  const created = await core.api('ops-alice', 'POST', '/api/conversations', { type: 'group', name: 'crosscheck', memberIds: ['ops-bob'] });
  expect(created.status).toBe(201);
  const id = created.body.id as string;
  const sends = [];
  for (let i = 0; i < 3; i++) sends.push((await core.api('ops-alice', 'POST', `/api/conversations/${id}/messages`, { clientMsgId: `m-${i}`, text: `hello ${i}` })).status);
  expect(sends).toContain(429);
  await core.api('ops-alice', 'GET', `/api/conversations/${id}/messages`);
  expect((await core.api('ops-alice', 'POST', `/api/conversations/${id}/attachments`, { filename: 'a.png', contentType: 'image/png', size: 10 })).status).toBe(201);
  expect((await core.api('ops-alice', 'POST', `/api/conversations/${id}/attachments`, { filename: 'big.png', contentType: 'image/png', size: 1001 })).status).toBe(413);
  await core.api(null, 'GET', '/ready');
  await core.api(null, 'GET', '/no-such-route');
  const socket = await core.socket('ops-bob');
  socket.disconnect();
  // ops-bob was offline when the messages arrived: the webhook hears about them.
  await until('notification delivery', 10_000, async () => webhookCalls > 0 && /^chat_notifications_total\{[^}]*outcome="delivered"/m.test(await scrape()));
  // The next minute's retention slot (at most ~60 s away).
  await until('scheduled retention run', 75_000, async () => /^chat_job_runs_total\{[^}]*job_name="retention"/m.test(await scrape()));
  await new Promise((r) => setTimeout(r, 200));
  exposition = parseExposition(await scrape());
}, 120_000);

afterAll(async () => {
  await core?.stop();
  await new Promise((resolve) => (webhook ? webhook.close(resolve) : resolve(undefined)));
});

const histogramSuffix = /_(bucket|sum|count)$/;
const external = new Set<string>([...externalMetricNames, ...prometheusSyntheticMetrics]);
const named = new Set<string>([...Object.values(metricNames), ...runtimeMetricNames]);
const recorded = () => new Set(committedRules().flatMap((g) => g.rules.flatMap((r) => ('record' in r ? [r.record] : []))));

/** The metric family a referenced series belongs to, and its type in the core's exposition. */
function family(name: string): { family: string; type: string | undefined; histogramSeries: boolean } {
  const base = name.replace(histogramSuffix, '');
  if (base !== name && exposition.types.get(base) === 'histogram') return { family: base, type: 'histogram', histogramSeries: true };
  return { family: name, type: exposition.types.get(name), histogramSeries: false };
}

/**
 * Raw counter reads allowed by the `(x{...} unless x{...} offset <d>)` guard of alerts/promql.ts
 * bornWithin() (the first increment of a series born at 1, which increase() cannot see): two per
 * guard, same metric and same selector on both sides.
 */
function bornGuardReads(expr: string): Map<string, number> {
  const reads = new Map<string, number>();
  for (const g of expr.matchAll(/\(\s*([A-Za-z_:][A-Za-z0-9_:]*)(\{[^}]*\})?\s+unless\s+\1\2\s+offset\s+\d+[smhdwy]\s*\)/g)) {
    reads.set(g[1] as string, (reads.get(g[1] as string) ?? 0) + 2);
  }
  return reads;
}

const coreRefs = () =>
  shippedExpressions().flatMap((e) => e.refs.filter((r) => !external.has(r.name) && !r.name.includes(':')).map((ref) => ({ where: e.where, ref })));

describe('the running core', () => {
  it('exports every name in metric-names.ts', () => {
    expect([...named].filter((n) => !exposition.types.has(n))).toEqual([]);
  });
});

describe('every metric referenced by a rule or a dashboard', () => {
  it('(the extractor sees the references: every core metric family is read somewhere)', () => {
    const read = new Set(coreRefs().map(({ ref }) => family(ref.name).family));
    expect([...named].filter((n) => !read.has(n))).toEqual([]);
  });

  it('is exported by the running core, or is a recording rule we define, or is a listed external metric', () => {
    const records = recorded();
    const missing: string[] = [];
    for (const e of shippedExpressions()) {
      for (const ref of e.refs) {
        if (external.has(ref.name)) continue;
        if (ref.name.includes(':')) {
          if (!records.has(ref.name)) missing.push(`${e.where}: recording rule ${ref.name} is not defined`);
          continue;
        }
        const f = family(ref.name);
        if (!f.type) missing.push(`${e.where}: ${ref.name} is not exported by the core`);
        else if (!named.has(f.family)) missing.push(`${e.where}: ${f.family} is not named in core/src/telemetry/metric-names.ts`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('reads counters (and histogram series) only through rate()/increase() over a range, or in the bornWithin() guard', () => {
    const wrong: string[] = [];
    for (const e of shippedExpressions()) {
      const guarded = bornGuardReads(e.expr);
      for (const ref of e.refs.filter((r) => !external.has(r.name) && !r.name.includes(':'))) {
        if (!(family(ref.name).histogramSeries || family(ref.name).type === 'counter')) continue;
        if (['rate', 'increase', 'irate'].includes(ref.enclosing) && ref.range) continue;
        const left = guarded.get(ref.name) ?? 0;
        if (!ref.range && left > 0) {
          guarded.set(ref.name, left - 1);
          continue;
        }
        wrong.push(`${e.where}: ${ref.name} inside ${ref.enclosing || 'nothing'}${ref.range ? '[range]' : ''}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('(the bornWithin() guard is recognised only in its exact shape)', () => {
    expect(bornGuardReads(bornWithin('c_total{a="b"}', '1d'))).toEqual(new Map([['c_total', 2]]));
    expect(bornGuardReads('(c_total{a="b"} unless c_total{a="x"} offset 1d)')).toEqual(new Map());
    expect(bornGuardReads('c_total > 1')).toEqual(new Map());
  });

  it('reads histograms through _bucket/_count/_sum only, and histogram_quantile only over _bucket', () => {
    const wrong = coreRefs()
      .filter(({ ref }) => family(ref.name).type === 'histogram' && !family(ref.name).histogramSeries)
      .map(({ where, ref }) => `${where}: bare histogram ${ref.name}`);
    for (const e of shippedExpressions()) {
      if (!e.expr.includes('histogram_quantile(')) continue;
      if (!e.refs.some((r: MetricRef) => r.name.endsWith('_bucket'))) wrong.push(`${e.where}: histogram_quantile without a _bucket series`);
    }
    expect(wrong).toEqual([]);
  });

  it('matches only on labels the core puts on that metric (job and instance come from Prometheus)', () => {
    const wrong: string[] = [];
    for (const { where, ref } of coreRefs()) {
      const seen = exposition.samples.get(ref.name);
      if (!seen) {
        wrong.push(`${where}: ${ref.name} has no series after the warm-up traffic, so its labels cannot be checked`);
        continue;
      }
      for (const label of ref.labels) if (label !== 'job' && label !== 'instance' && !seen.has(label)) wrong.push(`${where}: ${ref.name} has no label ${label}`);
    }
    expect(wrong).toEqual([]);
  });
});

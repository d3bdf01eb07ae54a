import { metricNames, runtimeMetricNames } from '../../core/src/telemetry/metric-names';
import { startTestCore, type TestCore } from '../../core/test/harness';
import { externalMetricNames, prometheusSyntheticMetrics } from '../external-metrics';
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

beforeAll(async () => {
  // Low message limit so a rejection (scope=message) gets a labelled series.
  core = await startTestCore({ RATE_LIMIT_MESSAGES_PER_MIN: '2' }, { redis: true });
  const created = await core.api('ops-alice', 'POST', '/api/conversations', { type: 'group', name: 'crosscheck', memberIds: ['ops-bob'] });
  expect(created.status).toBe(201);
  const id = created.body.id as string;
  const sends = [];
  for (let i = 0; i < 3; i++) sends.push((await core.api('ops-alice', 'POST', `/api/conversations/${id}/messages`, { clientMsgId: `m-${i}`, text: `hello ${i}` })).status);
  expect(sends).toContain(429);
  await core.api('ops-alice', 'GET', `/api/conversations/${id}/messages`);
  await core.api(null, 'GET', '/ready');
  await core.api(null, 'GET', '/no-such-route');
  const socket = await core.socket('ops-bob');
  socket.disconnect();
  await new Promise((r) => setTimeout(r, 200));
  const response = await fetch(`${core.url}/metrics`);
  expect(response.status).toBe(200);
  exposition = parseExposition(await response.text());
});

afterAll(async () => {
  await core?.stop();
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

  it('reads counters (and histogram series) only through rate()/increase() over a range', () => {
    const wrong = coreRefs()
      .filter(({ ref }) => family(ref.name).histogramSeries || family(ref.name).type === 'counter')
      .filter(({ ref }) => !(['rate', 'increase', 'irate'].includes(ref.enclosing) && ref.range))
      .map(({ where, ref }) => `${where}: ${ref.name} inside ${ref.enclosing || 'nothing'}${ref.range ? '[range]' : ''}`);
    expect(wrong).toEqual([]);
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

import { EXIT, decide, evaluateDrift, evaluateHistory, historyEntryOf, historyLimit, type HistoryRule, type Rule, type ScenarioOutcome } from '../lib/gate';
import { LatencyHistogram } from '../lib/histogram';
import { judgeGenerator } from '../lib/health';
import { targets } from '../targets';

const rules: Rule[] = [
  { scenario: 'api.list', metric: 'p95', max: 500 },
  { scenario: 'rt.core', metric: 'lost', max: 0 },
  { scenario: 'rt.core', metric: 'throughputRatio', min: 0.95 },
];
const ok = (metrics: Record<string, number>): ScenarioOutcome => ({ valid: true, metrics });

describe('gate decision', () => {
  it('passes when every line is within its target', () => {
    const verdict = decide(rules, { 'api.list': ok({ p95: 120 }), 'rt.core': ok({ lost: 0, throughputRatio: 1 }) });
    expect(verdict.verdict).toBe('pass');
    expect(verdict.exitCode).toBe(EXIT.pass);
    expect(verdict.lines.every((l) => l.status === 'pass')).toBe(true);
  });

  it('fails with the breach exit code and names the breached line', () => {
    const verdict = decide(rules, { 'api.list': ok({ p95: 501 }), 'rt.core': ok({ lost: 0, throughputRatio: 1 }) });
    expect(verdict.verdict).toBe('breach');
    expect(verdict.exitCode).toBe(EXIT.breach);
    expect(verdict.breached.map((l) => l.line)).toEqual(['api.list p95 ≤ 500']);
  });

  it('treats a single lost delivery and a throughput below the floor as breaches', () => {
    const verdict = decide(rules, { 'api.list': ok({ p95: 1 }), 'rt.core': ok({ lost: 1, throughputRatio: 0.5 }) });
    expect(verdict.breached.map((l) => l.metric)).toEqual(['lost', 'throughputRatio']);
  });

  it('treats a metric that could not be computed (no samples) as a breach, not a pass', () => {
    const verdict = decide(rules, { 'api.list': ok({ p95: Number.NaN }), 'rt.core': ok({ lost: 0, throughputRatio: 1 }) });
    expect(verdict.exitCode).toBe(EXIT.breach);
  });

  it('marks lines of a scenario whose generator was the bottleneck invalid, neither passed nor failed', () => {
    const invalid: ScenarioOutcome = { valid: false, invalidReason: 'generator CPU 99 %', metrics: { lost: 0, throughputRatio: 0.2 } };
    const verdict = decide(rules, { 'api.list': ok({ p95: 1 }), 'rt.core': invalid });
    expect(verdict.verdict).toBe('invalid');
    expect(verdict.exitCode).toBe(EXIT.invalid);
    expect(verdict.lines.filter((l) => l.scenario === 'rt.core').every((l) => l.status === 'invalid')).toBe(true);
  });

  it('still fails on a breach in a valid scenario when another one is invalid', () => {
    const verdict = decide(rules, { 'api.list': ok({ p95: 900 }), 'rt.core': { valid: false, metrics: {} } });
    expect(verdict.exitCode).toBe(EXIT.breach);
  });

  it('is a harness fault when a scenario did not run at all', () => {
    const verdict = decide(rules, { 'api.list': ok({ p95: 1 }) });
    expect(verdict.verdict).toBe('fault');
    expect(verdict.exitCode).toBe(EXIT.fault);
  });

  it('compares ratios with the stored baseline within the drift limit', () => {
    const drift = { metrics: ['p95RatioToBaseline'], maxGrowth: 2, slack: 1 };
    const baseline = { 'api.list': { p95RatioToBaseline: 4 } };
    expect(evaluateDrift(drift, baseline, { 'api.list': ok({ p95RatioToBaseline: 8.9 }) })[0]!.status).toBe('pass');
    const drifted = decide([], { 'api.list': ok({ p95RatioToBaseline: 9.5 }) }, drift, baseline);
    expect(drifted.exitCode).toBe(EXIT.breach);
    expect(drifted.breached[0]!.line).toMatch(/^drift api\.list p95RatioToBaseline/);
  });

  it('exit codes are distinct', () => {
    expect(new Set(Object.values(EXIT)).size).toBe(4);
  });
});

describe('percentiles over all samples', () => {
  it('merges per-client histograms; the merged p95 is not the average of per-client p95s', () => {
    // 19 fast clients (1 ms) and one slow client (1,000 ms), 100 samples each.
    const clients = Array.from({ length: 20 }, (_, c) => {
      const h = new LatencyHistogram();
      for (let i = 0; i < 100; i++) h.recordMs(c === 19 ? 1_000 : 1);
      return h;
    });
    const merged = LatencyHistogram.mergeAll(clients);
    const averagedP95 = clients.reduce((s, h) => s + h.pMs(95), 0) / clients.length;
    expect(merged.count).toBe(2_000);
    // 5 % of all samples are slow: the merged p95 sits at the fast edge, p99 at the slow one.
    expect(merged.pMs(95)).toBeCloseTo(1, 1);
    expect(merged.pMs(99)).toBeGreaterThan(990);
    expect(averagedP95).toBeGreaterThan(50); // what averaging per client would wrongly report
  });

  it('records every sample exactly (count) and keeps 3 significant digits', () => {
    const h = new LatencyHistogram();
    for (let i = 1; i <= 10_000; i++) h.recordMs(i / 100); // 0.01 .. 100 ms
    expect(h.count).toBe(10_000);
    expect(h.pMs(50)).toBeCloseTo(50, 0);
    expect(h.pMs(95)).toBeCloseTo(95, 0);
    expect(h.pMs(99)).toBeCloseTo(99, 0);
  });

  it('round-trips through the encoded form kept in reports', () => {
    const h = new LatencyHistogram();
    for (let i = 0; i < 1_000; i++) h.recordMs(i % 37);
    const back = LatencyHistogram.decode(h.encode());
    expect(back.count).toBe(h.count);
    expect(back.pMs(95)).toBe(h.pMs(95));
  });
});

describe('generator health', () => {
  const limits = { eventLoopDelayP99MaxMs: 40, cpuShareMax: 0.9 };
  const base = { eventLoopDelayP50Ms: 0.1, eventLoopDelayP99Ms: 2, eventLoopDelayMaxMs: 10, cpuShare: 0.3, valid: true };
  it('accepts a healthy generator', () => {
    expect(judgeGenerator(base, limits).valid).toBe(true);
  });
  it('invalidates a run with a saturated event loop or CPU', () => {
    expect(judgeGenerator({ ...base, eventLoopDelayP99Ms: 80 }, limits)).toMatchObject({ valid: false, reason: expect.stringMatching(/event-loop delay/) });
    expect(judgeGenerator({ ...base, cpuShare: 0.97 }, limits)).toMatchObject({ valid: false, reason: expect.stringMatching(/CPU/) });
  });
});

describe('a starved machine and the robust CPU lines', () => {
  const lines: Rule[] = [
    { scenario: 'api.list', metric: 'p95', max: 300 },
    { scenario: 'api.list', metric: 'cpuPerRequestRatioToBaseline', max: 9, robust: true },
  ];
  const starved = (metrics: Record<string, number>): ScenarioOutcome => ({ valid: false, invalidReason: 'machine CPU pressure 95 %', metrics });

  it('judges a robust line of a starved scenario, and a breach of it fails the gate', () => {
    const verdict = decide(lines, { 'api.list': starved({ p95: 4000, cpuPerRequestRatioToBaseline: 14 }) }, undefined, undefined, { invalidIsNoise: true });
    expect(verdict.exitCode).toBe(EXIT.breach);
    expect(verdict.breached.map((l) => l.metric)).toEqual(['cpuPerRequestRatioToBaseline']);
  });

  it('passes a starved run on its robust lines when latency cannot be judged (invalidIsNoise), and lists latency as invalid', () => {
    const verdict = decide(lines, { 'api.list': starved({ p95: 4000, cpuPerRequestRatioToBaseline: 6 }) }, undefined, undefined, { invalidIsNoise: true });
    expect(verdict).toMatchObject({ verdict: 'pass', exitCode: EXIT.pass });
    expect(verdict.lines.find((l) => l.metric === 'p95')!.status).toBe('invalid');
    // Without the option the same run is invalid (exit 4), as before.
    expect(decide(lines, { 'api.list': starved({ p95: 4000, cpuPerRequestRatioToBaseline: 6 }) }).exitCode).toBe(EXIT.invalid);
  });

  it('fails a starved core that acked nothing: its CPU per acked message is infinite, a breach of the robust line', () => {
    const rt = targets.short!.rules.filter((r) => r.scenario === 'rt.1k.core' && r.metric === 'cpuPerHandledMessageRatioToBaseline');
    expect(rt).toHaveLength(1);
    const verdict = decide(rt, { 'rt.1k.core': starved({ cpuPerHandledMessageRatioToBaseline: Number.POSITIVE_INFINITY }) }, undefined, undefined, { invalidIsNoise: true });
    expect(verdict.exitCode).toBe(EXIT.breach);
    expect(verdict.breached[0]!.note).toMatch(/nothing was acked/);
    // The same line passes the unmodified core's measured ratio (4.5 at 300 msg/s).
    expect(decide(rt, { 'rt.1k.core': starved({ cpuPerHandledMessageRatioToBaseline: 4.5 }) }, undefined, undefined, { invalidIsNoise: true }).exitCode).toBe(EXIT.pass);
  });

  it('judges the short profile\'s loss and duplicate lines of a starved real-time run: one lost delivery fails the gate', () => {
    const exact = targets.short!.rules.filter((r) => r.scenario === 'rt.1k.core' && (r.metric === 'lost' || r.metric === 'duplicated'));
    expect(exact.map((r) => r.metric).sort()).toEqual(['duplicated', 'lost']);
    const verdict = decide(exact, { 'rt.1k.core': starved({ lost: 1, duplicated: 0 }) }, undefined, undefined, { invalidIsNoise: true });
    expect(verdict.exitCode).toBe(EXIT.breach);
    expect(verdict.breached.map((l) => l.metric)).toEqual(['lost']);
  });

  it('invalidates latency when the machine CPU pressure is beyond the limit', () => {
    const base = { eventLoopDelayP50Ms: 0.1, eventLoopDelayP99Ms: 2, eventLoopDelayMaxMs: 10, cpuShare: 0.3, valid: true };
    const limits = { eventLoopDelayP99MaxMs: 40, cpuShareMax: 0.9, cpuPressureMax: 0.6 };
    expect(judgeGenerator({ ...base, cpuPressure: 0.3 }, limits).valid).toBe(true);
    expect(judgeGenerator({ ...base, cpuPressure: 0.9 }, limits)).toMatchObject({ valid: false, reason: expect.stringMatching(/pressure/) });
  });
});

describe('history: median + k × MAD of the recent runs of main', () => {
  const rule: HistoryRule = { metrics: ['cpuPerRequestRatioToBaseline'], k: 5, minMadShare: 0.1, window: 10, minRuns: 3 };
  const entries = [5.2, 5.9, 6.3, 5.0, 5.6].map((v, i) => ({ at: `t${i}`, values: { 'api.list cpuPerRequestRatioToBaseline': v } }));
  const run = (v: number) => ({ 'api.list': ok({ cpuPerRequestRatioToBaseline: v }) });

  it('computes the limit from the median and the MAD, the MAD floored at a share of the median', () => {
    expect(historyLimit([5, 5, 5], rule)).toEqual({ median: 5, mad: 0.5, limit: 7.5 });
    const { median, limit } = historyLimit([5.2, 5.9, 6.3, 5.0, 5.6], rule);
    expect(median).toBe(5.6);
    expect(limit).toBeCloseTo(5.6 + 5 * 0.56, 5);
  });

  it('floors a metric by its own share where one is given (allocation ratios are steadier than CPU)', () => {
    const both: HistoryRule = { ...rule, metrics: ['cpuPerRequestRatioToBaseline', 'allocPerRequestRatioToBaseline'], minMadShareByMetric: { allocPerRequestRatioToBaseline: 0.05 } };
    expect(historyLimit([8, 8, 8], both, 'allocPerRequestRatioToBaseline')).toEqual({ median: 8, mad: 0.4, limit: 10 });
    expect(historyLimit([8, 8, 8], both, 'cpuPerRequestRatioToBaseline').limit).toBeCloseTo(12, 5);
    const history = [8.47, 8.47, 8.7].map((v, i) => ({ at: `t${i}`, values: { 'api.list allocPerRequestRatioToBaseline': v, 'api.list cpuPerRequestRatioToBaseline': 4 } }));
    // +25 % allocation with the CPU unchanged: only the allocation line fails.
    const lines = evaluateHistory(both, history, { 'api.list': ok({ allocPerRequestRatioToBaseline: 10.8, cpuPerRequestRatioToBaseline: 4.1 }) });
    expect(lines.map((l) => [l.metric, l.status])).toEqual([['cpuPerRequestRatioToBaseline', 'pass'], ['allocPerRequestRatioToBaseline', 'breach']]);
  });

  it('passes a run like the recent ones and fails one whose ratio grew (a ~3× slower core)', () => {
    expect(evaluateHistory(rule, entries, run(6.4))[0]!.status).toBe('pass');
    const verdict = decide([], run(14), undefined, undefined, { history: { rule, entries } });
    expect(verdict.exitCode).toBe(EXIT.breach);
    expect(verdict.breached[0]!.line).toMatch(/^history api\.list cpuPerRequestRatioToBaseline ≤ 8\.4/);
  });

  it('does not judge with fewer recorded runs than minRuns, and keeps only the window', () => {
    expect(evaluateHistory(rule, entries.slice(0, 2), run(100))).toEqual([]);
    const old = Array.from({ length: 20 }, (_, i) => ({ at: `o${i}`, values: { 'api.list cpuPerRequestRatioToBaseline': 1 } }));
    expect(evaluateHistory(rule, [...old, ...entries, ...entries], run(6.4))[0]!.status).toBe('pass');
  });

  it('records the robust ratios of a run as one entry', () => {
    expect(historyEntryOf(rule, run(5.5), 'now', 'abc')).toEqual({ at: 'now', commit: 'abc', values: { 'api.list cpuPerRequestRatioToBaseline': 5.5 } });
  });
});

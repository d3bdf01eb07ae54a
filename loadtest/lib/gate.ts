/**
 * The gate: compares scenario metrics with the rules of the targets file and decides the exit code.
 * Pure functions, unit-tested (loadtest/test/gate.test.ts).
 */

export const EXIT = { pass: 0, fault: 2, breach: 3, invalid: 4 } as const;

export interface Rule {
  /** Scenario id, e.g. `api.list` or `rt.core`. */
  scenario: string;
  /** Metric key in that scenario's flat metrics, e.g. `p95`, `lost`, `p95RatioToBaseline`. */
  metric: string;
  max?: number;
  min?: number;
  /** Why this number (shown in the report). */
  why?: string;
  /**
   * Judged even when the scenario is invalid (generator or machine starved): the server's own CPU
   * counters and exact loss/duplicate/error counts do not depend on how fast the generator was.
   */
  robust?: boolean;
}

export interface DriftRule {
  /** Metrics (ratios to the same-run baselines) compared with the stored baseline report. */
  metrics: string[];
  /** A ratio may grow to at most this multiple of the stored value... */
  maxGrowth: number;
  /** ...plus this absolute slack (ratios of tiny numbers are noisy). */
  slack: number;
}

export interface ScenarioOutcome {
  /** False when the load generator itself was the bottleneck: its lines are invalid, not passed or failed. */
  valid: boolean;
  invalidReason?: string;
  metrics: Record<string, number>;
}

export type LineStatus = 'pass' | 'breach' | 'invalid' | 'missing';

export interface GateLine {
  line: string;
  scenario: string;
  metric: string;
  actual: number | null;
  limit: string;
  status: LineStatus;
  note?: string;
}

export interface GateVerdict {
  verdict: 'pass' | 'breach' | 'invalid' | 'fault';
  exitCode: number;
  lines: GateLine[];
  breached: GateLine[];
}

export type Baseline = Record<string, Record<string, number>>;

const fmt = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2));

export function ruleLabel(rule: Rule): string {
  const parts = [rule.min !== undefined ? `≥ ${rule.min}` : '', rule.max !== undefined ? `≤ ${rule.max}` : ''].filter(Boolean);
  return `${rule.scenario} ${rule.metric} ${parts.join(' and ')}`;
}

export function evaluateRule(rule: Rule, outcome: ScenarioOutcome | undefined): GateLine {
  const base = { line: ruleLabel(rule), scenario: rule.scenario, metric: rule.metric, limit: [rule.min !== undefined ? `≥ ${rule.min}` : '', rule.max !== undefined ? `≤ ${rule.max}` : ''].filter(Boolean).join(' '), note: rule.why };
  if (!outcome) return { ...base, actual: null, status: 'missing', note: 'scenario did not run' };
  const value = outcome.metrics[rule.metric];
  if (!outcome.valid && !rule.robust) return { ...base, actual: value ?? null, status: 'invalid', note: outcome.invalidReason };
  // A metric that could not be computed (no samples, NaN) is a breach: the system produced nothing to judge.
  if (value === Number.POSITIVE_INFINITY && rule.max !== undefined) return { ...base, actual: null, status: 'breach', note: '∞: CPU was spent and nothing was acked in the window' };
  if (value === undefined || !Number.isFinite(value)) return { ...base, actual: value ?? null, status: 'breach', note: 'no value (no samples?)' };
  const ok = (rule.max === undefined || value <= rule.max) && (rule.min === undefined || value >= rule.min);
  return { ...base, actual: value, status: ok ? 'pass' : 'breach' };
}

export function evaluateDrift(drift: DriftRule | undefined, baseline: Baseline | undefined, outcomes: Record<string, ScenarioOutcome>): GateLine[] {
  if (!drift || !baseline) return [];
  const lines: GateLine[] = [];
  for (const [scenario, stored] of Object.entries(baseline)) {
    const outcome = outcomes[scenario];
    if (!outcome) continue;
    for (const metric of drift.metrics) {
      const was = stored[metric];
      if (was === undefined || !Number.isFinite(was)) continue;
      const limit = was * drift.maxGrowth + drift.slack;
      const value = outcome.metrics[metric];
      const line = `drift ${scenario} ${metric} ≤ ${fmt(limit)} (baseline ${fmt(was)} × ${drift.maxGrowth} + ${drift.slack})`;
      const common = { line, scenario, metric, limit: `≤ ${fmt(limit)}` };
      if (!outcome.valid) lines.push({ ...common, actual: value ?? null, status: 'invalid', note: outcome.invalidReason });
      else if (value === undefined || !Number.isFinite(value)) lines.push({ ...common, actual: null, status: 'breach', note: 'no value' });
      else lines.push({ ...common, actual: value, status: value <= limit ? 'pass' : 'breach' });
    }
  }
  return lines;
}

/**
 * Any breach on a valid scenario (or of a robust line) fails; otherwise a missing scenario is a harness
 * fault; otherwise an invalid line makes the run invalid, unless `invalidIsNoise`: then the run passes
 * when every robust line was judged and passed (the latency lines it could not judge are listed as invalid).
 */
export function decide(rules: Rule[], outcomes: Record<string, ScenarioOutcome>, drift?: DriftRule, baseline?: Baseline, options: { invalidIsNoise?: boolean; history?: { rule: HistoryRule; entries: HistoryEntry[] } } = {}): GateVerdict {
  const lines = [...rules.map((r) => evaluateRule(r, outcomes[r.scenario])), ...evaluateDrift(drift, baseline, outcomes), ...evaluateHistory(options.history?.rule, options.history?.entries ?? [], outcomes)];
  const breached = lines.filter((l) => l.status === 'breach');
  if (breached.length) return { verdict: 'breach', exitCode: EXIT.breach, lines, breached };
  if (lines.some((l) => l.status === 'missing')) return { verdict: 'fault', exitCode: EXIT.fault, lines, breached };
  if (lines.some((l) => l.status === 'invalid')) {
    const robustJudged = rules.some((r) => r.robust);
    if (options.invalidIsNoise && robustJudged) return { verdict: 'pass', exitCode: EXIT.pass, lines, breached };
    return { verdict: 'invalid', exitCode: EXIT.invalid, lines, breached };
  }
  return { verdict: 'pass', exitCode: EXIT.pass, lines, breached };
}

/**
 * "Did it get worse than it has been lately": each robust same-run ratio of this run against the last
 * N recorded runs of main (loadtest/history/<profile>.json). A line fails when the value exceeds
 * median + k × MAD, with the MAD floored at `minMadShare` of the median (a handful of quiet runs can
 * have a tiny MAD). Fewer than `minRuns` recorded runs: the line is not judged (reported, never fails).
 * This is the baseline comparison k6 does not have (grafana/k6#1843).
 */
export interface HistoryRule {
  metrics: string[];
  k: number;
  minMadShare: number;
  /** A metric's own MAD floor where it is steadier than the rest (allocation ratios: ±2 % run to run). */
  minMadShareByMetric?: Record<string, number>;
  window: number;
  minRuns: number;
}

export interface HistoryEntry {
  at: string;
  commit?: string;
  /** `<scenario> <metric>` → value. */
  values: Record<string, number>;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function historyLimit(values: number[], rule: Pick<HistoryRule, 'k' | 'minMadShare' | 'minMadShareByMetric'>, metric?: string): { median: number; mad: number; limit: number } {
  const m = median(values);
  const floor = (metric !== undefined ? rule.minMadShareByMetric?.[metric] : undefined) ?? rule.minMadShare;
  const mad = Math.max(median(values.map((v) => Math.abs(v - m))), m * floor);
  return { median: m, mad, limit: m + rule.k * mad };
}

export function evaluateHistory(rule: HistoryRule | undefined, history: HistoryEntry[], outcomes: Record<string, ScenarioOutcome>): GateLine[] {
  if (!rule) return [];
  const recent = history.slice(-rule.window);
  const lines: GateLine[] = [];
  for (const [scenario, outcome] of Object.entries(outcomes)) {
    for (const metric of rule.metrics) {
      const value = outcome.metrics[metric];
      if (value === undefined) continue;
      const past = recent.map((h) => h.values[`${scenario} ${metric}`]).filter((v): v is number => v !== undefined && Number.isFinite(v));
      if (past.length < rule.minRuns) continue;
      const { median: m, mad, limit } = historyLimit(past, rule, metric);
      const line = `history ${scenario} ${metric} ≤ ${fmt(limit)} (median ${fmt(m)} + ${rule.k} × MAD ${fmt(mad)} of ${past.length} runs)`;
      const common = { line, scenario, metric, limit: `≤ ${fmt(limit)}` };
      if (!Number.isFinite(value)) lines.push({ ...common, actual: null, status: 'breach', note: 'no value' });
      else lines.push({ ...common, actual: value, status: value <= limit ? 'pass' : 'breach' });
    }
  }
  return lines;
}

/** The history entry of a run: its robust ratios (only from a passing run, so a regression never becomes the norm). */
export function historyEntryOf(rule: HistoryRule, outcomes: Record<string, ScenarioOutcome>, at: string, commit?: string): HistoryEntry {
  const values: Record<string, number> = {};
  for (const [scenario, outcome] of Object.entries(outcomes)) {
    for (const metric of rule.metrics) {
      const v = outcome.metrics[metric];
      if (v !== undefined && Number.isFinite(v)) values[`${scenario} ${metric}`] = v;
    }
  }
  return { at, ...(commit ? { commit } : {}), values };
}

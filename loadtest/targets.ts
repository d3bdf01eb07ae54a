import type { DriftRule, HistoryRule, Rule } from './lib/gate';

/**
 * THE targets file: every line the gate enforces, per profile. Latencies in ms; ratios are the core's
 * value divided by the bare baseline's from the same run (bare Express route / bare Socket.IO relay).
 *
 * Seeds from issue 8 (never looser): API p95 < 500 ms; delivery p95 < 2 s at 100 msg/s with 1,000
 * sockets; 0 lost; 0 duplicated. The short-profile numbers below are tightened to what the core
 * sustains on the 2-core box with headroom (see loadtest/README.md for the measurements behind them).
 */

const api = (scenario: string, p50: number, p95: number, p99: number, ratio: number): Rule[] => [
  { scenario, metric: 'p50', max: p50 },
  { scenario, metric: 'p95', max: p95, why: 'seed: API p95 < 500 ms' },
  { scenario, metric: 'p99', max: p99 },
  { scenario, metric: 'errorRate', max: 0 },
  { scenario, metric: 'throughputRatio', min: 0.95, why: 'throughput floor: the offered rate was served' },
  { scenario, metric: 'p95RatioToBaseline', max: ratio, why: 'same-run ratio to the bare Express route' },
];

const realtime = (scenario: string, t: { p50: number; p95: number; p99: number; ackP95: number; connectP95: number; ratio: number; heapRatio?: number }): Rule[] => [
  { scenario, metric: 'deliveryP50', max: t.p50 },
  { scenario, metric: 'deliveryP95', max: t.p95, why: 'seed: delivery p95 < 2 s at 100 msg/s, 1,000 sockets' },
  { scenario, metric: 'deliveryP99', max: t.p99 },
  { scenario, metric: 'ackP95', max: t.ackP95 },
  { scenario, metric: 'connectP95', max: t.connectP95 },
  // Exact counts after the drain: a busy machine makes deliveries late, never lost or doubled, so these
  // are judged even when the latency lines of a starved run cannot be.
  { scenario, metric: 'lost', max: 0, robust: true, why: 'every delivery to every member arrives' },
  { scenario, metric: 'duplicated', max: 0, robust: true },
  { scenario, metric: 'sendErrors', max: 0 },
  { scenario, metric: 'connectErrors', max: 0 },
  { scenario, metric: 'throughputRatio', min: 0.95, why: 'throughput floor: acks kept up with the offered msg/s' },
  { scenario, metric: 'deliveryP95RatioToBaseline', max: t.ratio, why: 'same-run ratio to the bare Socket.IO relay' },
  ...(t.heapRatio ? [{ scenario, metric: 'heapPerSocketRatio', max: t.heapRatio }] : []),
];

/** Baseline sanity: if the bare processes themselves are slow the machine is too noisy to judge. */
const baselines: Rule[] = [
  { scenario: 'api.bare', metric: 'errorRate', max: 0 },
  { scenario: 'rt.1k.relay', metric: 'lost', max: 0 },
  { scenario: 'rt.1k.relay', metric: 'duplicated', max: 0 },
];

/**
 * Short profile (CI gate). Measured on the shared 2-core box (generator, MongoDB-compatible server,
 * core and neighbours' test suites on the same cores), 200 req/s per endpoint, 1,000 sockets at 100 msg/s:
 *   quiet:  API p95 4-35 ms (ratio to bare 2-12), delivery p95 6-12 ms (ratio 3-7), heap/socket ratio ~1
 *   noisy (load average 8-14): API p95 160-350 ms (ratio 2-10), delivery p95 100-350 ms (ratio 3-18)
 * So the absolute lines sit below the seeds (API p95 300 ms vs 500; delivery p95 500 ms vs 2 s) with
 * 10-40× headroom on a quiet runner, the same-run ratios carry the tighter judgement (~3× headroom over
 * the noisy case), and a breach is re-measured once before it fails the gate (cli.ts, --confirm).
 */
/**
 * The regression lines: the core's CPU time per request (per message acked as stored, for sockets) from its own
 * process.cpuUsage(), divided by the bare Express route's (median of the run's bare windows) or the
 * bare relay's in the same run. CPU time does not stretch when neighbours starve the box the way
 * latency does, so these are judged even when the latency lines cannot be (`robust`). Limits: see
 * loadtest/README.md "The gate's CPU lines" (quiet/noisy distribution and the +2 ms injected core).
 */
const cpuLines = (limits: Record<string, number>, rt: number): Rule[] => [
  ...Object.entries(limits).map(([scenario, max]): Rule => ({ scenario, metric: 'cpuPerRequestRatioToBaseline', max, robust: true, why: 'core CPU per request ÷ bare route CPU per request, same run' })),
  { scenario: 'rt.1k.core', metric: 'cpuPerHandledMessageRatioToBaseline', max: rt, robust: true, why: 'core CPU per message acked ÷ bare relay CPU per message acked, same run (∞ when nothing was acked)' },
];

/**
 * The highest same-run p95 ratio (core ÷ bare) the unmodified core measured per short-profile scenario in
 * quiet windows (CPU pressure ≤ 30 %): the latency-ratio lines are 3× these. Measured 2026-12-06 22:25 to 12-07 02:03 (trees
 * from the revocation cache on; table in loadtest/README.md "The latency-ratio lines").
 */
export const QUIET_P95_RATIO_MAX: Record<string, number> = { 'api.list': 7.0, 'api.history': 6.5, 'api.send': 2.6, 'api.mixed': 7.4, 'rt.1k.core': 4.3 };
/** 3× the quiet maximum, to one decimal (rounded down: never looser than 3×). */
const threeTimesQuiet = (scenario: string): number => Math.floor(3 * QUIET_P95_RATIO_MAX[scenario]! * 10 + 1e-9) / 10;

const shortRules: Rule[] = [
  ...baselines,
  // Re-set after integrating issue 21 (seq settlement, membership epoch, unreadCount without burned seqs, …):
  // the integrated core costs 1.5-2× the CPU per request of the tree these lines were first set on (gate
  // FAILed on it: loadtest/README.md "The gate's CPU lines"). ≥ 1.4× above the integrated core's highest
  // value, below the +2 ms core's. rt.1k.core (12-06): CPU per message *acked* at 300 msg/s, ≤ 7. The per-sent
  // line at 100 msg/s (9.5) passed the +2 ms core (ratio 6.7-8.2, or cheaper per message sent while it fell
  // behind); at 300 msg/s the unmodified core measured 2.6-4.75 and the +2 ms core acked nothing (∞)
  // (loadtest/README.md "Sockets judged per message acked", slowed-core.test.ts).
  // API lines re-set 12-06 (22:30-23:10) when the revocation cache made a request ~40 % cheaper (list 4.3-6.7,
  // was 7.1-8.8) and the listing lost a round trip (list 3.5-5.0): the +2 ms core then measured 8.2-12.8 and
  // passed the old 12/14 lines (a cold rehearsal's slowed-core test, its latency lines not judged under the
  // suite's load). Each line sits between the unmodified core's highest and the +2 ms core's lowest, quiet and
  // busy (loadtest/README.md "API lines re-set after the revocation cache").
  ...cpuLines({ 'api.list': 7, 'api.history': 8, 'api.send': 6.5, 'api.mixed': 7.5 }, 7),
  // Latency ratios (judged when the machine's CPU pressure is ≤ 60 %): 3× the highest p95 ratio the unmodified
  // core measured in quiet windows (PSI ≤ 30 %), per scenario (issue 23: "no looser than 3× the quiet-run
  // ratios"; loadtest/README.md "The latency-ratio lines"). QUIET_P95_RATIO_MAX holds those maxima.
  ...api('api.list', 50, 300, 1_000, threeTimesQuiet('api.list')),
  ...api('api.history', 50, 300, 1_000, threeTimesQuiet('api.history')),
  ...api('api.send', 50, 300, 1_000, threeTimesQuiet('api.send')),
  ...api('api.mixed', 50, 300, 1_000, threeTimesQuiet('api.mixed')),
  { scenario: 'api.max.list', metric: 'errorRate', max: 0 },
  { scenario: 'api.max.list', metric: 'reqPerSRatioToBaseline', min: 0.02, why: 'closed-model max req/s vs the bare route (today 0.04-0.05; the issue wants 0.4)' },
  ...realtime('rt.1k.core', { p50: 50, p95: 500, p99: 1_500, ackP95: 500, connectP95: 2_000, ratio: threeTimesQuiet('rt.1k.core'), heapRatio: 3 }),
];

/** Issue 23's API latency line (1,000 req/s with p95 ≤ 25 ms per endpoint): the ramp also reports the highest rate within it. */
export const API_P95_TARGET_MS = 25;

export interface Targets {
  rules: Rule[];
  drift?: DriftRule;
  /** A run whose only unjudged lines are latency lines of starved scenarios passes on its robust lines. */
  invalidIsNoise?: boolean;
  /** Against the recent runs of main recorded in loadtest/history/<profile>.json (median + k × MAD). */
  history?: HistoryRule;
}

export const targets: Record<string, Targets> = {
  short: {
    rules: shortRules,
    drift: { metrics: ['p95RatioToBaseline', 'deliveryP95RatioToBaseline'], maxGrowth: 5, slack: 10 },
    invalidIsNoise: true,
    // MAD floored at 15 % of the median (≥ 1.75× the median with k = 5): two clean-clone runs of one tree
    // differed by 1.5× (send 4.4 vs 6.7) on this shared box; the +2 ms core sits at 2.5-3.5×.
    // Allocation per request / per message acked against the bare route / relay (the GC table): steadier
    // than CPU (api.list 8.5-8.6× in three runs where its CPU ratio moved 25 %), so the same rule catches a
    // change that makes each message or request allocate more, which is what the collector's pauses follow.
    // Their MAD floor is 5 % (a line at 1.25× the median): six runs of 12-07, CI's cold rehearsal under load
    // among them, stayed within 3 % (api.list 8.47-8.70, history 25.28-25.60, send 10.07-10.18, mixed
    // 19.73-19.86, rt.1k 4.06-4.08); a core allocating 60 KB more per request / message breaches it.
    history: {
      metrics: ['cpuPerRequestRatioToBaseline', 'cpuPerHandledMessageRatioToBaseline', 'allocPerRequestRatioToBaseline', 'allocPerMessageRatioToBaseline'],
      k: 5,
      minMadShare: 0.15,
      minMadShareByMetric: { allocPerRequestRatioToBaseline: 0.05, allocPerMessageRatioToBaseline: 0.05 },
      window: 10,
      minRuns: 3,
    },
  },
  /** The smoke profile (gate test) is judged by the short profile's lines for the scenarios it runs. */
  smoke: { rules: shortRules },
  /** What the issue asks the core to reach (reported by the full profile; a release candidate must pass). */
  full: {
    rules: [
      ...baselines,
      ...api('api.list', 10, API_P95_TARGET_MS, 100, 10),
      ...api('api.history', 10, API_P95_TARGET_MS, 100, 10),
      ...api('api.send', 10, API_P95_TARGET_MS, 100, 10),
      ...api('api.mixed', 10, API_P95_TARGET_MS, 100, 10),
      { scenario: 'api.max.list', metric: 'reqPerSRatioToBaseline', min: 0.4, why: 'issue: ≥ 40 % of the bare route max req/s' },
      // Issue 23: the core's own CPU per request ≤ 3× the bare Express route's (whatever the database).
      ...['api.list', 'api.history', 'api.send', 'api.mixed'].map((scenario): Rule => ({ scenario, metric: 'cpuPerRequestRatioToBaseline', max: 3, robust: true, why: 'issue 23: core CPU per request ≤ 3× the bare route' })),
      ...realtime('rt.1k.core', { p50: 10, p95: 25, p99: 100, ackP95: 25, connectP95: 1_000, ratio: 5, heapRatio: 1.5 }),
      // Issue 23: 10,000 sockets @ 1,000 msg/s durable, delivery p95 ≤ 3× the bare relay.
      ...realtime('rt.10k.core', { p50: 10, p95: 25, p99: 100, ackP95: 25, connectP95: 2_000, ratio: 3, heapRatio: 1.5 }),
      { scenario: 'sat.core', metric: 'sustainedRatioToBaseline', min: 0.5, why: 'issue: saturation ≥ 50 % of the bare relay msg/s' },
    ],
  },
};

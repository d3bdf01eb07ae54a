import * as hdr from 'hdr-histogram-js';

/**
 * Latency histogram over every real sample, recorded in microseconds (HDR, 3 significant digits).
 * Percentiles are always read from a histogram holding all samples; per-client histograms are
 * merged with `add`, never averaged.
 */
export class LatencyHistogram {
  readonly h: hdr.Histogram;

  constructor(h?: hdr.Histogram) {
    this.h = h ?? hdr.build({ bitBucketSize: 32, lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3, autoResize: true });
  }

  /** Records one sample in milliseconds (fractions kept to the microsecond). */
  recordMs(ms: number): void {
    this.h.recordValue(Math.max(1, Math.round(ms * 1000)));
  }

  get count(): number {
    return this.h.totalCount;
  }

  /** Percentile in milliseconds (p in 0..100); NaN when empty. */
  pMs(p: number): number {
    if (this.h.totalCount === 0) return Number.NaN;
    return this.h.getValueAtPercentile(p) / 1000;
  }

  maxMs(): number {
    return this.h.totalCount === 0 ? Number.NaN : this.h.maxValue / 1000;
  }

  meanMs(): number {
    return this.h.totalCount === 0 ? Number.NaN : this.h.mean / 1000;
  }

  merge(other: LatencyHistogram): this {
    this.h.add(other.h);
    return this;
  }

  summary(): LatencySummary {
    return { count: this.count, p50: round(this.pMs(50)), p90: round(this.pMs(90)), p95: round(this.pMs(95)), p99: round(this.pMs(99)), p999: round(this.pMs(99.9)), max: round(this.maxMs()), mean: round(this.meanMs()) };
  }

  /** HdrHistogram compressed base64 (values in microseconds), kept in every report. */
  encode(): string {
    return hdr.encodeIntoCompressedBase64(this.h);
  }

  static decode(encoded: string): LatencyHistogram {
    return new LatencyHistogram(hdr.decodeFromCompressedBase64(encoded, 32));
  }

  /** Percentile curve for charts: [percentile, ms] points. */
  curve(points = [0, 25, 50, 75, 90, 95, 97.5, 99, 99.5, 99.9, 99.99, 100]): [number, number][] {
    return points.map((p) => [p, this.pMs(p)]);
  }

  static mergeAll(histograms: LatencyHistogram[]): LatencyHistogram {
    const out = new LatencyHistogram();
    for (const h of histograms) out.merge(h);
    return out;
  }
}

export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

export const round = (v: number, digits = 3) => (Number.isFinite(v) ? Math.round(v * 10 ** digits) / 10 ** digits : v);

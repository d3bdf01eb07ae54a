/**
 * What garbage collection cost a process under test between two probe reads, from V8's own record
 * of each collection (`v8.GCProfiler`: heap used before and after, and the pause): bytes allocated,
 * pause time of young (scavenge) and full collections, and the longest pause.
 *
 * Why it is in the report: at 10,000 sockets the core's delivery tail is its collections, not its
 * code (issue 23: a scavenge every ~0.4 s and a full collection every ~25 s whose marking runs on the
 * main thread when the two cores are busy), and how often they run follows from how much each message
 * allocates. Bytes allocated per message, against the relay's, is the figure a change can move.
 *
 * Allocated bytes are counted the way V8 frees them: what a collection found on the heap minus what
 * the previous one left, plus what is on the heap now above what the last one left. Objects a
 * collection frees that were allocated before the first read are not counted (the first read starts
 * the account).
 */

/** One collection as v8.GCProfiler reports it (`cost` in microseconds). */
export interface GcRecord {
  gcType: string;
  cost: number;
  beforeGC: { heapStatistics: { usedHeapSize: number } };
  afterGC: { heapStatistics: { usedHeapSize: number } };
}

export interface GcTotals {
  allocatedBytes: number;
  minorCount: number;
  minorMs: number;
  majorCount: number;
  majorMs: number;
  /** The longest single pause since the previous read (not cumulative). */
  maxPauseMs: number;
}

/** Young-generation collections; everything else (mark-compact, incremental marking's finalisation, weak callbacks) counts as full. */
const MINOR = new Set(['Scavenge', 'MinorMarkSweep']);

export class GcAccount {
  private totals: GcTotals = { allocatedBytes: 0, minorCount: 0, minorMs: 0, majorCount: 0, majorMs: 0, maxPauseMs: 0 };
  private lastUsed: number;

  constructor(usedHeapNow: number) {
    this.lastUsed = usedHeapNow;
  }

  add(records: readonly GcRecord[]): void {
    const t = this.totals;
    for (const r of records) {
      t.allocatedBytes += Math.max(0, r.beforeGC.heapStatistics.usedHeapSize - this.lastUsed);
      this.lastUsed = r.afterGC.heapStatistics.usedHeapSize;
      const ms = r.cost / 1000;
      if (MINOR.has(r.gcType)) {
        t.minorCount++;
        t.minorMs += ms;
      } else {
        t.majorCount++;
        t.majorMs += ms;
      }
      t.maxPauseMs = Math.max(t.maxPauseMs, ms);
    }
  }

  /** Cumulative totals up to now (the heap used now counts as allocated); resets the longest pause. */
  read(usedHeapNow: number): GcTotals {
    this.totals.allocatedBytes += Math.max(0, usedHeapNow - this.lastUsed);
    this.lastUsed = usedHeapNow;
    const snapshot = { ...this.totals };
    this.totals.maxPauseMs = 0;
    return snapshot;
  }
}

/** What changed between two reads, per unit of work (`units`: messages or requests handled). */
export function gcBetween(before: GcTotals, after: GcTotals, windowMs: number, units: number) {
  const pauseMs = after.minorMs - before.minorMs + (after.majorMs - before.majorMs);
  return {
    allocatedKBPerUnit: units > 0 ? (after.allocatedBytes - before.allocatedBytes) / 1024 / units : Number.NaN,
    /** Milliseconds of collector pauses per second of the window. */
    gcMsPerS: windowMs > 0 ? (pauseMs * 1000) / windowMs : Number.NaN,
    minorCount: after.minorCount - before.minorCount,
    majorCount: after.majorCount - before.majorCount,
    maxPauseMs: after.maxPauseMs,
  };
}

import v8 from 'node:v8';
import { GcAccount, gcBetween, type GcRecord } from '../servers/gc-accounting';

const MB = 1024 * 1024;
const record = (gcType: string, beforeMB: number, afterMB: number, costUs: number): GcRecord => ({
  gcType,
  cost: costUs,
  beforeGC: { heapStatistics: { usedHeapSize: beforeMB * MB } },
  afterGC: { heapStatistics: { usedHeapSize: afterMB * MB } },
});

describe('GcAccount (the load report\'s allocation and pause figures)', () => {
  it('counts allocation as what each collection found above what the previous one left, plus the heap grown since', () => {
    const account = new GcAccount(10 * MB);
    // 10 → 50 (40 allocated), scavenge leaves 12; 12 → 60 (48), full collection leaves 20; now 25 (5).
    account.add([record('Scavenge', 50, 12, 8_000), record('MarkSweepCompact', 60, 20, 30_000)]);
    const t = account.read(25 * MB);
    expect(t.allocatedBytes).toBe(93 * MB);
    expect(t).toMatchObject({ minorCount: 1, minorMs: 8, majorCount: 1, majorMs: 30, maxPauseMs: 30 });
  });

  it('keeps totals cumulative across reads and the longest pause per read', () => {
    const account = new GcAccount(0);
    account.add([record('Scavenge', 40, 5, 12_000)]);
    const first = account.read(5 * MB);
    account.add([record('Scavenge', 45, 6, 4_000), record('IncrementalMarking', 6, 6, 1_000)]);
    const second = account.read(6 * MB);
    expect(second.allocatedBytes - first.allocatedBytes).toBe(40 * MB);
    expect(second.minorCount).toBe(2);
    expect(second.majorCount).toBe(1);
    expect(first.maxPauseMs).toBe(12);
    expect(second.maxPauseMs).toBe(4);
    const d = gcBetween(first, second, 2_000, 1_000);
    expect(d.allocatedKBPerUnit).toBeCloseTo(40 * 1024 / 1_000);
    expect(d.gcMsPerS).toBeCloseTo(2.5); // 4 + 1 ms of pauses in 2 s
    expect(d).toMatchObject({ minorCount: 1, majorCount: 1, maxPauseMs: 4 });
  });

  it('reads V8\'s own GCProfiler records: a loop that allocates ~N MB is counted as at least N MB', () => {
    const profiler = new v8.GCProfiler();
    const account = new GcAccount(process.memoryUsage().heapUsed);
    profiler.start();
    let keep = 0;
    for (let i = 0; i < 200; i++) keep += new Array(64 * 1024).fill(i).length; // 200 × 512 KB of elements
    account.add((profiler.stop()?.statistics ?? []) as GcRecord[]);
    const t = account.read(process.memoryUsage().heapUsed);
    expect(keep).toBe(200 * 64 * 1024);
    expect(t.allocatedBytes).toBeGreaterThan(90 * MB);
    expect(t.minorCount + t.majorCount).toBeGreaterThan(0);
  });
});

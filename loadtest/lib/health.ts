import fs from 'node:fs';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';

/** Limits beyond which the load generator, not the system under test, was the bottleneck. */
export interface GeneratorLimits {
  /** Event-loop delay p99 of the generator, ms. */
  eventLoopDelayP99MaxMs: number;
  /** CPU time of the generator process as a share of one core over the measured window. */
  cpuShareMax: number;
  /**
   * Machine CPU pressure (Linux PSI, /proc/pressure/cpu "some": share of the window in which some
   * runnable task waited for a CPU). Beyond it the box is starved by neighbours (load average 8-15 with
   * other suites): latency is the scheduler's, not the system's. Latency lines are then not judged;
   * CPU-per-request and correctness lines still are (rules marked `robust`).
   */
  cpuPressureMax?: number;
}

export interface GeneratorHealth {
  eventLoopDelayP50Ms: number;
  eventLoopDelayP99Ms: number;
  eventLoopDelayMaxMs: number;
  cpuShare: number;
  /** Busy cores of the whole machine over the window (all processes: ours, the system under test, neighbours). */
  machineBusyCores?: number;
  /** Share of the window some task waited for a CPU (PSI); undefined without /proc/pressure. */
  cpuPressure?: number;
  valid: boolean;
  reason?: string;
}

const RESOLUTION_MS = 5;

/** Watches the generator's own event loop and CPU while a scenario's measured window runs. */
export function watchGenerator(limits: GeneratorLimits) {
  const eld = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  eld.enable();
  const cpu0 = process.cpuUsage();
  const machine0 = machineTicks();
  const pressure0 = cpuPressureUs();
  const t0 = performance.now();
  return {
    stop(): GeneratorHealth {
      eld.disable();
      const cpu = process.cpuUsage(cpu0);
      const wallMs = performance.now() - t0;
      // The histogram holds the whole sampling interval; the delay is what exceeds it.
      const excess = (ns: number) => Math.max(0, ns / 1e6 - RESOLUTION_MS);
      const health: GeneratorHealth = {
        eventLoopDelayP50Ms: round(excess(eld.percentile(50))),
        eventLoopDelayP99Ms: round(excess(eld.percentile(99))),
        eventLoopDelayMaxMs: round(excess(eld.max)),
        cpuShare: round((cpu.user + cpu.system) / 1000 / wallMs),
        machineBusyCores: busyCores(machine0, machineTicks()),
        cpuPressure: pressureShare(pressure0, cpuPressureUs(), wallMs),
        valid: true,
      };
      return judgeGenerator(health, limits);
    },
  };
}

export function judgeGenerator(health: GeneratorHealth, limits: GeneratorLimits): GeneratorHealth {
  const reasons: string[] = [];
  if (health.eventLoopDelayP99Ms > limits.eventLoopDelayP99MaxMs) reasons.push(`generator event-loop delay p99 ${health.eventLoopDelayP99Ms} ms > ${limits.eventLoopDelayP99MaxMs} ms`);
  if (health.cpuShare > limits.cpuShareMax) reasons.push(`generator CPU ${Math.round(health.cpuShare * 100)} % of a core > ${Math.round(limits.cpuShareMax * 100)} %`);
  if (limits.cpuPressureMax !== undefined && health.cpuPressure !== undefined && health.cpuPressure > limits.cpuPressureMax) reasons.push(`machine CPU pressure ${Math.round(health.cpuPressure * 100)} % > ${Math.round(limits.cpuPressureMax * 100)} % (neighbours' load)`);
  return reasons.length ? { ...health, valid: false, reason: reasons.join('; ') } : { ...health, valid: true, reason: undefined };
}

const round = (v: number) => Math.round(v * 1000) / 1000;

/** Aggregate CPU ticks from /proc/stat (Linux); undefined elsewhere. */
function machineTicks(): { busy: number; total: number; cpus: number } | undefined {
  try {
    const lines = fs.readFileSync('/proc/stat', 'utf8').split('\n');
    const f = lines[0]!.trim().split(/\s+/).slice(1).map(Number);
    const idle = (f[3] ?? 0) + (f[4] ?? 0);
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: total - idle, total, cpus: lines.filter((l) => /^cpu\d/.test(l)).length };
  } catch {
    return undefined;
  }
}

function busyCores(a: ReturnType<typeof machineTicks>, b: ReturnType<typeof machineTicks>): number | undefined {
  if (!a || !b || b.total <= a.total) return undefined;
  return round(((b.busy - a.busy) / (b.total - a.total)) * b.cpus);
}

/** Cumulative µs in which some task waited for a CPU (/proc/pressure/cpu); undefined where PSI is missing. */
function cpuPressureUs(): number | undefined {
  try {
    const m = /^some .*total=(\d+)/m.exec(fs.readFileSync('/proc/pressure/cpu', 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

function pressureShare(a: number | undefined, b: number | undefined, wallMs: number): number | undefined {
  if (a === undefined || b === undefined || wallMs <= 0) return undefined;
  return round(Math.min(1, (b - a) / 1000 / wallMs));
}

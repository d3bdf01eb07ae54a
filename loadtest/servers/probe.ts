/**
 * Preloaded (`node --import tsx --import loadtest/servers/probe.ts <entry>`) into every process under
 * test - the core and both bare baselines - so they are measured the same way without touching core/:
 *  - answers IPC requests for memory (after a forced GC when --expose-gc), CPU time, event-loop
 *    utilisation and delay;
 *  - counts what garbage collection cost (bytes allocated, pauses: gc-accounting.ts);
 *  - starts/stops a V8 CPU profile on request (where the time goes), and when asked a sampling heap
 *    profile over the same window (what allocates: lib/heapprofile.ts);
 *  - LOADTEST_INJECT_CPU_MS / LOADTEST_INJECT_ALLOC_KB make it costlier per request on purpose (below);
 *  - LOADTEST_INJECT_DELAY_MS > 0 slows the process on purpose: every HTTP request and every inbound
 *    WebSocket message is handled that many ms late (the "deliberately slowed core" of the gate test).
 */
import fs from 'node:fs';
import http from 'node:http';
import { Session } from 'node:inspector';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import v8 from 'node:v8';
import { GcAccount, type GcRecord } from './gc-accounting';

const delayMs = Number(process.env.LOADTEST_INJECT_DELAY_MS ?? 0);
if (delayMs > 0) {
  const emitRequest = http.Server.prototype.emit;
  http.Server.prototype.emit = function patched(this: http.Server, event: string, ...args: unknown[]) {
    if (event === 'request') {
      setTimeout(() => emitRequest.apply(this, [event, ...args] as unknown as Parameters<typeof emitRequest>), delayMs);
      return true;
    }
    return emitRequest.apply(this, [event, ...args] as unknown as Parameters<typeof emitRequest>);
  } as typeof emitRequest;
  // engine.io's WebSocket transport reads frames from `ws` (one copy in node_modules).
  const { WebSocket } = require('ws') as typeof import('ws');
  const emitWs = WebSocket.prototype.emit;
  WebSocket.prototype.emit = function patched(this: InstanceType<typeof WebSocket>, event: string, ...args: unknown[]) {
    if (event === 'message') {
      setTimeout(() => emitWs.apply(this, [event, ...args] as unknown as Parameters<typeof emitWs>), delayMs);
      return true;
    }
    return emitWs.apply(this, [event, ...args] as unknown as Parameters<typeof emitWs>);
  } as typeof emitWs;
  console.error(`[probe] injected delay: ${delayMs} ms on every HTTP request and inbound WebSocket message`);
}

/**
 * Runs `hook` synchronously before every HTTP `request` event and every inbound WebSocket `message`
 * (engine.io's WebSocket transport reads frames from `ws`, one copy in node_modules): where the
 * injected costs below land, without touching core/.
 */
function beforeEveryRequestAndMessage(hook: () => void): void {
  const emitRequest = http.Server.prototype.emit;
  http.Server.prototype.emit = function costlier(this: http.Server, event: string, ...args: unknown[]) {
    if (event === 'request') hook();
    return emitRequest.apply(this, [event, ...args] as unknown as Parameters<typeof emitRequest>);
  } as typeof emitRequest;
  const { WebSocket } = require('ws') as typeof import('ws');
  const emitWs = WebSocket.prototype.emit;
  WebSocket.prototype.emit = function costlier(this: InstanceType<typeof WebSocket>, event: string, ...args: unknown[]) {
    if (event === 'message') hook();
    return emitWs.apply(this, [event, ...args] as unknown as Parameters<typeof emitWs>);
  } as typeof emitWs;
}

/**
 * LOADTEST_INJECT_CPU_MS > 0: every HTTP request and every inbound WebSocket message first burns that
 * many ms of CPU on the event loop (a busy loop: a real regression costs CPU, not just wall time). With
 * the core's ~1 ms of CPU per request, 2 ms is the "~3× slower core" the gate must notice.
 */
const cpuMs = Number(process.env.LOADTEST_INJECT_CPU_MS ?? 0);
if (cpuMs > 0) {
  // Spins until this thread has used cpuMs of CPU (not wall time: on a starved box a wall-clock spin is
  // preempted and burns less, which would make the "slower core" look faster than it is).
  const threadCpuUs = (): number => {
    const u = (process as { threadCpuUsage?: () => NodeJS.CpuUsage }).threadCpuUsage?.() ?? process.cpuUsage();
    return u.user + u.system;
  };
  const burn = () => {
    const until = threadCpuUs() + cpuMs * 1000;
    while (threadCpuUs() < until) { /* spin */ }
  };
  beforeEveryRequestAndMessage(burn);
  console.error(`[probe] injected CPU: ${cpuMs} ms busy on every HTTP request and inbound WebSocket message`);
}

/**
 * LOADTEST_INJECT_ALLOC_KB > 0: every HTTP request and every inbound WebSocket message first allocates
 * that many KB of short-lived objects (small objects in arrays, dropped at once: the shape of a parser or
 * a driver that got wasteful). It costs little CPU but more scavenges; the gate's allocation lines must
 * notice it (loadtest/test/slowed-core.test.ts).
 */
const allocKb = Number(process.env.LOADTEST_INJECT_ALLOC_KB ?? 0);
if (allocKb > 0) {
  let sink: unknown;
  const waste = () => {
    // ~64 bytes per row as V8 counts it (the object, its array slot, the array's doubling copies):
    // measured, 60 KB asked gave +60 KB per listing request and +83 KB per message acked in the GC table.
    const rows: { n: number; s: string }[] = [];
    for (let i = 0; i < allocKb * 16; i++) rows.push({ n: i, s: 'x' });
    sink = rows;
  };
  beforeEveryRequestAndMessage(waste);
  void sink;
  console.error(`[probe] injected allocation: ~${allocKb} KB of short-lived objects on every HTTP request and inbound WebSocket message`);
}

interface ProbeRequest {
  id: number;
  type: 'stats' | 'profile-start' | 'profile-stop';
  gc?: boolean;
  file?: string;
  /**
   * profile-start: also sample the heap. `survivors`: only allocations that outlived a scavenge
   * (what the young generation promotes and full collections then mark: the 10,000-socket tail);
   * `all`: every allocation (what makes the scavenges).
   */
  heap?: 'survivors' | 'all';
}

if (process.send) {
  const eld = monitorEventLoopDelay({ resolution: 10 });
  eld.enable();
  let session: Session | undefined;
  let heapSampling = false;
  const post = <T>(method: string, params?: object) =>
    new Promise<T>((resolve, reject) => session!.post(method, params ?? {}, (err, res) => (err ? reject(err) : resolve(res as T))));
  const gc = (globalThis as { gc?: () => void }).gc;
  // One record per collection, read (and restarted) at every stats request.
  const gcProfiler = new v8.GCProfiler();
  const gcAccount = new GcAccount(process.memoryUsage().heapUsed);
  gcProfiler.start();
  const readGc = () => {
    gcAccount.add((gcProfiler.stop()?.statistics ?? []) as GcRecord[]);
    gcProfiler.start();
    return gcAccount.read(process.memoryUsage().heapUsed);
  };

  process.on('message', (raw: unknown) => {
    const req = raw as ProbeRequest;
    if (!req || typeof req !== 'object' || typeof req.id !== 'number') return;
    const reply = (body: object) => process.send?.({ id: req.id, ...body });
    void (async () => {
      try {
        if (req.type === 'stats') {
          if (req.gc && gc) { gc(); gc(); }
          const body = {
            gc: readGc(),
            memory: process.memoryUsage(),
            cpu: process.cpuUsage(),
            elu: performance.eventLoopUtilization(),
            // The histogram holds whole 10 ms sampling intervals; the delay is the excess.
            eld: { p50: Math.max(0, eld.percentile(50) / 1e6 - 10), p99: Math.max(0, eld.percentile(99) / 1e6 - 10), max: Math.max(0, eld.max / 1e6 - 10) },
            uptimeMs: performance.now(),
          };
          eld.reset();
          reply(body);
        } else if (req.type === 'profile-start') {
          session = new Session();
          session.connect();
          await post('Profiler.enable');
          await post('Profiler.setSamplingInterval', { interval: 500 });
          await post('Profiler.start');
          heapSampling = req.heap === 'survivors' || req.heap === 'all';
          if (heapSampling) {
            await post('HeapProfiler.enable');
            await post('HeapProfiler.startSampling', { samplingInterval: 16_384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: req.heap === 'all' });
          }
          reply({ ok: true });
        } else if (req.type === 'profile-stop' && session && req.file) {
          const { profile } = await post<{ profile: object }>('Profiler.stop');
          fs.writeFileSync(req.file, JSON.stringify(profile));
          if (heapSampling) {
            const { profile: heap } = await post<{ profile: object }>('HeapProfiler.stopSampling');
            // Next to the CPU profile (lib/heapprofile.ts heapProfileFile; the probe imports nothing of lib/).
            fs.writeFileSync(`${req.file.replace(/\.cpuprofile$/, '')}.heapprofile`, JSON.stringify(heap));
          }
          session.disconnect();
          session = undefined;
          reply({ ok: true, file: req.file });
        } else {
          reply({ error: `unknown request ${req.type}` });
        }
      } catch (error) {
        reply({ error: (error as Error).message });
      }
    })();
  });
  // The IPC channel must not keep the process alive on its own.
  (process.channel as { unref?: () => void } | undefined)?.unref?.();
}

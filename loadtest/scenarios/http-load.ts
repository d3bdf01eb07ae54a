import http from 'node:http';
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import { LatencyHistogram } from '../lib/histogram';
import { watchGenerator, type GeneratorHealth, type GeneratorLimits } from '../lib/health';

export interface HttpRequestSpec {
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** Status codes that count as success. */
  ok: number[];
}

export interface HttpRunResult {
  model: 'open' | 'closed';
  offeredRate: number | null;
  durationS: number;
  warmupS: number;
  /** Measured (post-warm-up) requests and errors. */
  requests: number;
  /** Every request sent, warm-up included (the denominator of the server's CPU per request). */
  sentTotal: number;
  errors: number;
  errorKinds: Record<string, number>;
  achievedRate: number;
  latency: LatencyHistogram;
  generator: GeneratorHealth;
}

/**
 * Open model: request i is due at t0 + i/rate whatever happened before; latency is measured from
 * that intended time, so a slow server cannot slow the arrivals down (no coordinated omission).
 * Every response is one sample in the histogram; warm-up requests are sent but not recorded.
 */
export async function runOpenModel(opts: {
  baseUrl: string;
  rate: number;
  durationS: number;
  warmupS: number;
  next: (i: number) => Promise<HttpRequestSpec> | HttpRequestSpec;
  maxSockets?: number;
  timeoutMs?: number;
  /** After the last scheduled request, how long to wait for the rest (default max(10 s, duration)). */
  drainMs?: number;
  limits: GeneratorLimits;
}): Promise<HttpRunResult> {
  const url = new URL(opts.baseUrl);
  // Bounded connections: an overloaded core sees at most this many requests at once; the rest wait in the
  // generator, still timed from their intended send time (open model).
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.maxSockets ?? 64 });
  const latency = new LatencyHistogram();
  const errorKinds: Record<string, number> = {};
  let requests = 0;
  let errors = 0;
  const total = Math.round(opts.rate * (opts.durationS + opts.warmupS));
  const intervalMs = 1000 / opts.rate;
  const t0 = performance.now() + 20;
  const measureFrom = t0 + opts.warmupS * 1000;
  let watch: ReturnType<typeof watchGenerator> | undefined;
  let lastDone = t0;
  const inFlight = new Set<Promise<void>>();

  const pendingIntended = new Map<number, boolean>();
  let abandoned = false;
  const fire = (i: number, intended: number) => {
    const measured = intended >= measureFrom;
    pendingIntended.set(intended, measured);
    const p = (async () => {
      let outcome: string;
      try {
        const spec = await opts.next(i);
        outcome = await send(url, agent, spec, opts.timeoutMs ?? 10_000);
      } catch (error) {
        outcome = `error:${(error as Error).message.slice(0, 60)}`;
      }
      const done = performance.now();
      if (abandoned) return;
      pendingIntended.delete(intended);
      lastDone = Math.max(lastDone, done);
      if (!measured) return;
      requests++;
      latency.recordMs(done - intended);
      if (outcome !== 'ok') {
        errors++;
        errorKinds[outcome] = (errorKinds[outcome] ?? 0) + 1;
      }
    })();
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  };

  await new Promise<void>((resolve) => {
    let i = 0;
    const tick = () => {
      const now = performance.now();
      if (!watch && now >= measureFrom) watch = watchGenerator(opts.limits);
      while (i < total && t0 + i * intervalMs <= now) {
        fire(i, t0 + i * intervalMs);
        i++;
      }
      if (i >= total) return resolve();
      setTimeout(tick, Math.max(0, t0 + i * intervalMs - performance.now()));
    };
    setTimeout(tick, Math.max(0, t0 - performance.now()));
  });
  // An overloaded server must not stretch the run without bound: what has not completed after the
  // drain window is counted as an error and recorded at its latency so far (a lower bound).
  const drainMs = opts.drainMs ?? Math.max(10_000, opts.durationS * 1000);
  let timer: NodeJS.Timeout | undefined;
  const drained = await Promise.race([
    Promise.all([...inFlight]).then(() => true),
    new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), drainMs); }),
  ]);
  clearTimeout(timer);
  const generator = (watch ?? watchGenerator(opts.limits)).stop();
  const completed = requests;
  if (!drained) {
    const now = performance.now();
    for (const [intended, measured] of pendingIntended) {
      if (!measured) continue;
      requests++;
      errors++;
      latency.recordMs(now - intended);
      errorKinds['not completed in the drain window'] = (errorKinds['not completed in the drain window'] ?? 0) + 1;
    }
    abandoned = true;
  }
  agent.destroy();
  const windowMs = Math.max(lastDone - measureFrom, opts.durationS * 1000);
  return { model: 'open', offeredRate: opts.rate, durationS: opts.durationS, warmupS: opts.warmupS, requests, sentTotal: total, errors, errorKinds, achievedRate: completed / (windowMs / 1000), latency, generator };
}

function send(url: URL, agent: http.Agent, spec: HttpRequestSpec, timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    const headers: Record<string, string | number> = { ...spec.headers };
    if (spec.body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(spec.body);
    }
    const req = http.request({ host: url.hostname, port: url.port, method: spec.method, path: spec.path, headers, agent, timeout: timeoutMs }, (res) => {
      res.on('data', () => undefined);
      res.on('end', () => resolve(spec.ok.includes(res.statusCode ?? 0) ? 'ok' : `status:${res.statusCode}`));
      res.on('error', (e) => resolve(`error:${e.message}`));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve(`error:${e.message}`));
    if (spec.body !== undefined) req.write(spec.body);
    req.end();
  });
}

/**
 * Closed model (fixed connections) with autocannon, for max req/s. autocannon's own histogram is
 * ignored: every real response is recorded here, warm-up excluded.
 */
export async function runClosedModel(opts: {
  baseUrl: string;
  connections: number;
  durationS: number;
  warmupS: number;
  request: { method: 'GET' | 'POST'; path: string; headers?: Record<string, string>; body?: (i: number) => string };
  limits: GeneratorLimits;
}): Promise<HttpRunResult> {
  const latency = new LatencyHistogram();
  const errorKinds: Record<string, number> = {};
  let requests = 0;
  let errors = 0;
  let n = 0;
  const started = performance.now();
  const measureFrom = started + opts.warmupS * 1000;
  let watch: ReturnType<typeof watchGenerator> | undefined;
  const warmTimer = setTimeout(() => { watch = watchGenerator(opts.limits); }, opts.warmupS * 1000);
  const bodyOf = opts.request.body;
  let finish!: (r: autocannon.Result) => void;
  let fail!: (e: Error) => void;
  const done = new Promise<autocannon.Result>((resolve, reject) => { finish = resolve; fail = reject; });
  const instance = autocannon({
    url: opts.baseUrl,
    connections: opts.connections,
    duration: opts.durationS + opts.warmupS,
    requests: [{
      method: opts.request.method,
      path: opts.request.path,
      headers: { ...opts.request.headers, ...(bodyOf ? { 'content-type': 'application/json' } : {}) },
      ...(bodyOf ? { setupRequest: (req: autocannon.Request) => ({ ...req, body: bodyOf(n++) }) } : {}),
    }],
  }, (err, res) => (err ? fail(err as Error) : finish(res)));
  let sentTotal = 0;
  instance.on('response', (_client, statusCode, _bytes, responseTime) => {
    sentTotal++;
    if (performance.now() < measureFrom) return;
    requests++;
    latency.recordMs(responseTime);
    if (statusCode < 200 || statusCode >= 300) {
      errors++;
      errorKinds[`status:${statusCode}`] = (errorKinds[`status:${statusCode}`] ?? 0) + 1;
    }
  });
  const result = await done;
  clearTimeout(warmTimer);
  const generator = (watch ?? watchGenerator(opts.limits)).stop();
  const transportErrors = result.errors + result.timeouts;
  if (transportErrors) {
    errors += transportErrors;
    errorKinds['transport'] = transportErrors;
  }
  return { model: 'closed', offeredRate: null, durationS: opts.durationS, warmupS: opts.warmupS, requests, sentTotal, errors, errorKinds, achievedRate: requests / opts.durationS, latency, generator };
}

/**
 * Side-by-side A/B of core trees (issue 23's "what did each change buy"): one MongoDB-compatible
 * server, one bare Express route, and one core per tree, all started by this run; every API endpoint
 * of the short profile is driven at the same open-model rate against every core *at the same time*
 * (plus the bare route), so neighbours' load hits all of them alike. Per core and endpoint it reports
 * CPU ms per request (the process's own counters via the probe), the ratio to the bare route's, and
 * MongoDB operations per request by command (the core's `chat_mongodb_operation_duration_seconds`
 * counts: every operation the core sends, background ones such as the seq settler included).
 *
 *   npx tsx loadtest/compare-trees.ts --tree base=/tmp/base --tree new=. [--rounds 3] [--rate 150] [--duration 8]
 *     [--endpoints list,history,send,mixed] [--floor] [--drive new,floor]
 *
 * A tree is a checkout of this repository (e.g. `git archive <rev> | tar -x -C /tmp/base` with a
 * node_modules symlink); its core runs as `node --import tsx <tree>/core/src/main.ts`.
 *
 * `--floor` adds the driver floor (servers/driver-floor.ts): the first tree's database, served for
 * list and history by this checkout's store functions alone — what the same round trips cost with
 * none of the core's work around them (reported as `floor`; no DB op counts: it exports no metrics).
 */
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { signLocalToken, tokenSettingsFrom } from '../core/src/auth/tokens';
import { loadConfig } from '../core/src/config';
import { startLocalStack } from '../ops/services/local-stack';
import { freePort } from '../ops/services/ports';
import { dbOpsPer, readDbOps, type DbOps } from './lib/db-ops';
import { cpuMsBetween, repoRoot, spawnServer, type ServerProcess } from './lib/processes';
import { seedApi, type Seeded } from './lib/seed';
import type { SystemUnderTest } from './lib/stack';
import { runOpenModel, type HttpRequestSpec } from './scenarios/http-load';
import { profiles } from './profiles';
import { summarizeProfile } from './lib/cpuprofile';

const args = process.argv.slice(2);
const opt = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
};
const trees = args.flatMap((a, i) => (a === '--tree' && args[i + 1] ? [args[i + 1]!] : [])).map((spec) => {
  const [name, dir] = spec.split('=');
  return { name: name!, dir: path.resolve(dir!) };
});
const rounds = Number(opt('rounds', '3'));
const rate = Number(opt('rate', '150'));
const durationS = Number(opt('duration', '8'));
const warmupS = Number(opt('warmup', '2'));
const endpointsWanted = opt('endpoints', 'list,history,send,mixed').split(',');
const cpuProf = args.includes('--cpu-prof');
const withFloor = args.includes('--floor');
/** Which of the trees (and `floor`) are driven; default all. `--drive floor` measures the floor alone next to the bare route. */
const drive = opt('drive', '').split(',').filter(Boolean);
/** What the driver floor serves: the reads (a send's round trips are the batcher's). */
const FLOOR_ENDPOINTS = new Set(['list', 'history']);
const limits = { eventLoopDelayP99MaxMs: 1e9, cpuShareMax: 1 };

async function main(): Promise<void> {
  if (trees.length < 1) throw new Error('give at least one --tree name=dir');
  const logDir = path.join(repoRoot, 'var', 'compare-trees', new Date().toISOString().replace(/[:.]/g, '-'));
  const stops: (() => Promise<void>)[] = [];
  try {
    process.env.SWITCHBOARD_QUIET_SERVICES = '1';
    const stack = await startLocalStack({ mongo: 'memory', redis: false, logDir });
    stops.push(() => stack.stop());
    const baseEnv: Record<string, string> = {
      APP_ENV: 'test', LOG_LEVEL: 'warn', RATE_LIMIT_API_PER_MIN: '1000000', RATE_LIMIT_MESSAGES_PER_MIN: '1000000',
      RATE_LIMIT_SOCKET_EVENTS_PER_MIN: '1000000', SHUTDOWN_DRAIN_MS: '2000', MONGODB_URI: stack.env.MONGODB_URI,
    };
    const settings = tokenSettingsFrom(loadConfig({ ...process.env, ...baseEnv }));
    const tokens = new Map<string, Promise<string>>();
    const token = (u: string) => { let t = tokens.get(u); if (!t) { t = signLocalToken(settings, u, 6 * 3600); tokens.set(u, t); } return t; };
    const bare = await spawnServer({ name: 'bare-express', entry: 'loadtest/servers/bare-express.ts', logDir, env: { LOADTEST_INJECT_DELAY_MS: '', LOADTEST_INJECT_CPU_MS: '' } });
    stops.push(() => bare.stop());
    const cores: { name: string; proc: ServerProcess; metricsUrl?: string; db: string; seeded?: Seeded; serves?: Set<string> }[] = [];
    for (const tree of trees) {
      const metricsPort = await freePort();
      const db = `cmp_${tree.name}_${randomBytes(3).toString('hex')}`;
      const proc = await spawnServer({
        name: `core-${tree.name}`, entry: path.join(tree.dir, 'core', 'src', 'main.ts'), logDir,
        env: { ...baseEnv, METRICS_PORT: String(metricsPort), MONGODB_DB: db },
      });
      stops.push(() => proc.stop());
      cores.push({ name: tree.name, proc, metricsUrl: `http://127.0.0.1:${metricsPort}`, db });
    }
    const seedShape = profiles.short!.api.seed;
    for (const core of cores) {
      const sut = { core: { url: core.proc.url }, token } as unknown as SystemUnderTest;
      core.seeded = await seedApi(sut, core.name, seedShape);
    }
    if (withFloor) {
      const first = cores[0]!;
      const proc = await spawnServer({ name: 'driver-floor', entry: 'loadtest/servers/driver-floor.ts', logDir, env: { MONGODB_URI: stack.env.MONGODB_URI, MONGODB_DB: first.db } });
      stops.push(() => proc.stop());
      cores.push({ name: 'floor', proc, db: first.db, seeded: first.seeded, serves: FLOOR_ENDPOINTS });
    }
    const endpointsOf = (s: Seeded, tag: string) => {
      const pick = <T>(xs: T[], i: number) => xs[i % xs.length]!;
      const auth = async (u: string) => ({ authorization: `Bearer ${await token(u)}` });
      let sendN = 0;
      const e: Record<string, (i: number) => Promise<HttpRequestSpec>> = {
        list: async (i) => ({ method: 'GET', path: '/api/conversations?limit=20', headers: await auth(pick(s.users, i * 7)), ok: [200] }),
        history: async (i) => {
          const h = pick(s.history, i);
          return { method: 'GET', path: `/api/conversations/${h.id}/messages?beforeSeq=${2 + ((i * 7919) % h.lastSeq)}&limit=50`, headers: await auth(h.member), ok: [200] };
        },
        send: async (i) => {
          const u = pick(s.users, i * 13);
          return { method: 'POST', path: `/api/conversations/${pick(s.conversationsOf.get(u)!, i)}/messages`, headers: await auth(u), body: JSON.stringify({ clientMsgId: `cmp-${tag}-${sendN++}`, text: `api load message ${i}` }), ok: [201] };
        },
      };
      e.mixed = (i) => { const r = (i * 2654435761) % 100; return r < 40 ? e.list!(i) : r < 80 ? e.history!(i) : e.send!(i); };
      return e;
    };
    const eps = cores.map((c) => endpointsOf(c.seeded!, `${c.name}-${randomBytes(2).toString('hex')}`));
    type Row = { round: number; endpoint: string; core: string; cpuMsPerReq: number; ratio: number; opsPerReq: number; byCommand: Record<string, number>; errors: number; p95: number };
    const rows: Row[] = [];
    const bareRows: { round: number; endpoint: string; cpuMsPerReq: number }[] = [];
    for (let round = 1; round <= rounds; round++) {
      for (const endpoint of endpointsWanted) {
        await new Promise((r) => setTimeout(r, 1500));
        const running = cores.filter((c) => (!c.serves || c.serves.has(endpoint)) && (!drive.length || drive.includes(c.name)));
        const opsOf = async (c: (typeof cores)[number]) => (c.metricsUrl ? await readDbOps(c.metricsUrl) : undefined) ?? (new Map() as DbOps);
        const beforeStats = await Promise.all([bare, ...running.map((c) => c.proc)].map((p) => p.stats()));
        const beforeOps = await Promise.all(running.map(opsOf));
        const open = { rate, durationS, warmupS, limits };
        const profiling = cpuProf && round === 1;
        if (profiling) await Promise.all(running.map((c) => c.proc.profileStart()));
        const [bareRun, ...coreRuns] = await Promise.all([
          runOpenModel({ ...open, baseUrl: bare.url, next: () => ({ method: 'GET', path: '/bare', ok: [200] }) }),
          ...running.map((c) => runOpenModel({ ...open, baseUrl: c.proc.url, next: eps[cores.indexOf(c)]![endpoint]! })),
        ]);
        if (profiling) {
          for (const c of running) {
            const file = path.join(logDir, `${c.name}-${endpoint}.cpuprofile`);
            await c.proc.profileStop(file);
            const p = summarizeProfile(file, 12);
            console.log(`  profile ${c.name} ${endpoint}: busy ${p.totalMs - p.idleMs} ms; areas ${p.byArea.map((a) => `${a.area} ${a.share}%`).join(', ')}`);
            console.log(`    top ${p.topFunctions.map((f) => `${f.name} (${f.where}) ${f.share}%`).join('; ')}`);
          }
        }
        const afterStats = await Promise.all([bare, ...running.map((c) => c.proc)].map((p) => p.stats()));
        const afterOps = await Promise.all(running.map(opsOf));
        const bareCpu = cpuMsBetween(beforeStats[0]!, afterStats[0]!) / bareRun.sentTotal;
        bareRows.push({ round, endpoint, cpuMsPerReq: bareCpu });
        running.forEach((c, k) => {
          const run = coreRuns[k]!;
          const cpu = cpuMsBetween(beforeStats[k + 1]!, afterStats[k + 1]!) / run.sentTotal;
          const { total, byCommand } = dbOpsPer(beforeOps[k]!, afterOps[k]!, run.sentTotal);
          rows.push({ round, endpoint, core: c.name, cpuMsPerReq: cpu, ratio: cpu / Math.max(bareCpu, 0.01), opsPerReq: c.metricsUrl ? total : Number.NaN, byCommand, errors: run.errors, p95: run.latency.pMs(95) });
        });
        const line = rows.slice(-running.length).map((r) => `${r.core} ${r.cpuMsPerReq.toFixed(2)} ms (${r.ratio.toFixed(1)}×) p95 ${r.p95.toFixed(1)} ms ${Number.isNaN(r.opsPerReq) ? '(no op counts)' : `${r.opsPerReq.toFixed(2)} ops ${JSON.stringify(r.byCommand)}`}${r.errors ? ` ERR ${r.errors}` : ''}`).join(' | ');
        console.log(`r${round} ${endpoint.padEnd(7)} bare ${bareCpu.toFixed(3)} ms p95 ${bareRun.latency.pMs(95).toFixed(1)} ms | ${line}`);
      }
    }
    const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); const m = Math.floor(s.length / 2); return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2; };
    console.log('\nmedian over rounds: CPU ms/request (ratio to the bare route, same windows) [min-max] · DB ops/request');
    for (const endpoint of endpointsWanted) {
      const parts = cores.filter((c) => rows.some((r) => r.endpoint === endpoint && r.core === c.name)).map((c) => {
        const rs = rows.filter((r) => r.endpoint === endpoint && r.core === c.name);
        const cpus = rs.map((r) => r.cpuMsPerReq);
        return `${c.name} ${median(cpus).toFixed(2)} (${median(rs.map((r) => r.ratio)).toFixed(1)}×) [${Math.min(...cpus).toFixed(2)}-${Math.max(...cpus).toFixed(2)}] · ${Number.isNaN(rs[0]?.opsPerReq) ? 'no op counts' : `${median(rs.map((r) => r.opsPerReq)).toFixed(2)} ops`}`;
      });
      console.log(`${endpoint.padEnd(7)} bare ${median(bareRows.filter((r) => r.endpoint === endpoint).map((r) => r.cpuMsPerReq)).toFixed(3)} | ${parts.join(' | ')}`);
    }
    console.log(`load average: ${(await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' ')}; logs ${logDir}`);
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  }
}

main().then(() => process.exit(0), (error: unknown) => { console.error(error); process.exit(2); });

/**
 * Load tests and the release gate: `npx tsx loadtest/cli.ts --help` prints the usage below (USAGE).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { profiles } from './profiles';
import { targets } from './targets';
import { summarizeProfile } from './lib/cpuprofile';
import { heapProfileFile, summarizeHeapProfile } from './lib/heapprofile';
import { EXIT, decide, historyEntryOf, type Baseline, type GateVerdict, type HistoryEntry } from './lib/gate';
import { preflight } from './lib/preflight';
import { toReport, writeReport } from './lib/report';
import { startSystem, type SystemUnderTest } from './lib/stack';
import { outcomesOf, runSuite, type ScenarioRecord, type SuiteOptions } from './lib/suite';

/** What `--help` prints, and an unknown option's answer. */
export const USAGE = `Load tests and the release gate.
  npm run loadtest:gate                      short profile, the CI gate (last step of npm test)
  npm run loadtest -- --profile full         release candidates: the issue's full table
Options: --url <core url>  --only <prefix,...>  --inject-delay-ms <n>  --inject-cpu-ms <n>  --inject-alloc-kb <n>  --cpu-prof [--cpu-prof-scenario <id>]  --core-runtime tsx|compiled
         --heap-prof survivors|all (with the CPU profile, a sampling heap profile of that scenario's server: allocations that outlived a scavenge, or all)
         --record-history (append this passing run's CPU ratios to loadtest/history/<profile>.json)  --history <file>
         --save-baseline  --baseline <file>  --out <dir>  --retries <n> (re-run an invalid run)
         --confirm 0 (do not re-measure breached scenarios before failing)  --core-env NAME=value (repeatable)
         --core-node-flag=<flag> (repeatable: a V8/Node flag for the core, e.g. --core-node-flag=--trace-gc; noted in the report)
Exit codes: 0 pass, 3 a target breached, 4 invalid (the load generator was the bottleneck),
            2 harness fault (could not start, preflight impossible, crash, unknown option).`;

const here = __dirname;
const log = (line: string) => console.error(line);

export interface CliResult { exitCode: number; gate?: GateVerdict; files?: { json: string; md: string; svg: string } }

export async function main(argv: string[]): Promise<CliResult> {
  if (argv.includes('--help') || argv.includes('-h')) {
    log(USAGE);
    return { exitCode: EXIT.pass };
  }
  let parsed;
  try {
    parsed = parseOptions(argv);
  } catch (error) {
    log(`${(error as Error).message}\n\n${USAGE}`);
    return { exitCode: EXIT.fault };
  }
  const { values } = parsed;
  const profile = profiles[values.profile!];
  const target = targets[values.profile!];
  if (!profile || !target) {
    log(`unknown profile ${values.profile}; known: ${Object.keys(profiles).join(', ')}`);
    return { exitCode: EXIT.fault };
  }
  if (values['heap-prof'] !== undefined && !['survivors', 'all'].includes(values['heap-prof'])) {
    log(`--heap-prof takes survivors or all, not ${values['heap-prof']}\n\n${USAGE}`);
    return { exitCode: EXIT.fault };
  }
  const retries = Number(values.retries ?? (values.gate ? 1 : 0));
  let result: CliResult = { exitCode: EXIT.fault };
  for (let attempt = 0; attempt <= retries; attempt++) {
    if (attempt > 0) log(`run was INVALID (the generator was the bottleneck): retrying (${attempt}/${retries})`);
    result = await runOnce(values as Required<typeof values>, profile, target);
    if (result.exitCode !== EXIT.invalid) break;
  }
  return result;
}

function parseOptions(argv: string[]) {
  return parseArgs({
    args: argv,
    options: {
      profile: { type: 'string', default: 'short' },
      gate: { type: 'boolean', default: false },
      url: { type: 'string' },
      only: { type: 'string' },
      'inject-delay-ms': { type: 'string' },
      'inject-cpu-ms': { type: 'string' },
      'inject-alloc-kb': { type: 'string' },
      'cpu-prof': { type: 'boolean', default: false },
      'cpu-prof-scenario': { type: 'string' },
      'heap-prof': { type: 'string' },
      'save-baseline': { type: 'boolean', default: false },
      'record-history': { type: 'boolean', default: false },
      history: { type: 'string' },
      baseline: { type: 'string', default: path.join(here, 'baseline.json') },
      out: { type: 'string', default: path.join(here, 'reports') },
      retries: { type: 'string' },
      confirm: { type: 'string', default: '1' },
      'core-env': { type: 'string', multiple: true },
      'core-node-flag': { type: 'string', multiple: true },
      'core-runtime': { type: 'string', default: 'tsx' },
    },
    allowPositionals: false,
  });
}

async function runOnce(values: Record<string, unknown>, profile: (typeof profiles)[string], target: (typeof targets)[string]): Promise<CliResult> {
  const startedAt = new Date().toISOString();
  const maxSockets = Math.max(...profile.realtime.runs.map((r) => r.sockets), profile.realtime.saturation?.sockets ?? 0);
  const pf = preflight(maxSockets);
  log(`preflight: node ${pf.node}, ${pf.cpus} CPUs, load ${pf.loadAverage.join('/')}, ulimit -n ${pf.ulimitNoFile.soft}, ports ${pf.localPortRange?.join('-')}, transport websocket, native add-ons ${JSON.stringify(pf.nativeAddons)}`);
  if (pf.problems.length) {
    log(`HARNESS FAULT (preflight): ${pf.problems.join('; ')}`);
    return { exitCode: EXIT.fault };
  }
  const outDir = String(values.out);
  const logDir = path.join(outDir, 'logs');
  const notes: string[] = [];
  let sut: SystemUnderTest | undefined;
  let records: ScenarioRecord[];
  const onSignal = () => { void sut?.stop().finally(() => process.exit(EXIT.fault)); };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const injectDelayMs = values['inject-delay-ms'] ? Number(values['inject-delay-ms']) : undefined;
  const injectCpuMs = values['inject-cpu-ms'] ? Number(values['inject-cpu-ms']) : undefined;
  const injectAllocKb = values['inject-alloc-kb'] ? Number(values['inject-alloc-kb']) : undefined;
  const coreEnv = Object.fromEntries(((values['core-env'] as string[] | undefined) ?? []).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  let cpuProfile: SuiteOptions['cpuProfile'];
  const heapProf = values['heap-prof'] as string | undefined;
  if (values['cpu-prof'] || values['cpu-prof-scenario'] || heapProf) {
    const scenario = String(values['cpu-prof-scenario'] ?? `rt.${profile.realtime.runs[0]!.id}.core`);
    cpuProfile = { heap: heapProf as 'survivors' | 'all' | undefined, scenario, file: path.join(outDir, `${startedAt.replace(/[:.]/g, '-')}-${profile.name}-${scenario}.cpuprofile`) };
  }
  try {
    log(values.url ? `targeting the core at ${values.url}; starting the bare Express route and bare Socket.IO relay ...` : `starting MongoDB-compatible server, core, bare Express route and bare Socket.IO relay${injectDelayMs ? ` (core slowed by ${injectDelayMs} ms)` : ''}${injectCpuMs ? ` (core burns ${injectCpuMs} ms of CPU per request/message)` : ''}${injectAllocKb ? ` (core allocates ${injectAllocKb} KB more per request/message)` : ''} ...`);
    const coreRuntime = values['core-runtime'] === 'compiled' ? 'compiled' : 'tsx';
    const coreNodeFlags = (values['core-node-flag'] as string[] | undefined) ?? [];
    sut = await startSystem({ url: values.url as string | undefined, logDir, injectDelayMs, injectCpuMs, injectAllocKb, coreEnv, coreRuntime, coreNodeFlags });
    notes.push(`Core runtime: ${sut.describe.core ?? coreRuntime}.`);
    if (coreNodeFlags.length) notes.push(`The core ran with node flags that production does not use: ${coreNodeFlags.join(' ')}.`);
    if (injectAllocKb) notes.push(`The core was deliberately made to allocate more: LOADTEST_INJECT_ALLOC_KB=${injectAllocKb} (loadtest/servers/probe.ts preload).`);
    if (injectCpuMs) notes.push(`The core was deliberately made to cost more CPU: LOADTEST_INJECT_CPU_MS=${injectCpuMs} (loadtest/servers/probe.ts preload).`);
    if (injectDelayMs) notes.push(`The core was deliberately slowed: LOADTEST_INJECT_DELAY_MS=${injectDelayMs} (loadtest/servers/probe.ts preload).`);
    records = await runSuite(sut, profile, { log, cpuProfile, only: values.only ? new Set(String(values.only).split(',')) : undefined });
    if (cpuProfile && fs.existsSync(cpuProfile.file)) {
      const summary = summarizeProfile(cpuProfile.file);
      notes.push(`CPU profile of the ${cpuProfile.scenario.endsWith('.relay') ? 'relay' : 'core'} during ${cpuProfile.scenario}${cpuProfile.scenario.startsWith('rt.') ? ' (measured send window only)' : ''}: ${cpuProfile.file} (${summary.totalMs} ms, idle ${summary.idleMs} ms).`);
      notes.push(`Core self time by area: ${summary.byArea.slice(0, 12).map((a) => `${a.area} ${a.share} %`).join(', ')}.`);
      notes.push(`Top functions: ${summary.topFunctions.slice(0, 12).map((f) => `${f.name} (${f.where}) ${f.share} %`).join('; ')}.`);
    }
    if (cpuProfile && heapProf && fs.existsSync(heapProfileFile(cpuProfile.file))) {
      const heap = summarizeHeapProfile(heapProfileFile(cpuProfile.file));
      const what = heapProf === 'survivors' ? 'allocations that outlived a scavenge (promoted: what full collections mark)' : 'every allocation';
      notes.push(`Sampling heap profile of the ${cpuProfile.scenario.endsWith('.relay') ? 'relay' : 'core'} during ${cpuProfile.scenario}, ${what}: ${heapProfileFile(cpuProfile.file)} (${heap.totalMB} MB).`);
      notes.push(`Allocated by area: ${heap.byArea.slice(0, 12).map((a) => `${a.area} ${a.share} %`).join(', ')}.`);
      notes.push(`Top allocating functions: ${heap.topFunctions.slice(0, 15).map((f) => `${f.name} (${f.where}) ${f.MB} MB, ${f.share} %`).join('; ')}.`);
    }
  } catch (error) {
    log(`HARNESS FAULT: ${(error as Error).stack ?? error}`);
    await sut?.stop();
    return { exitCode: EXIT.fault };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }

  const baselineAll = fs.existsSync(String(values.baseline)) ? JSON.parse(fs.readFileSync(String(values.baseline), 'utf8')) as Record<string, Baseline> : {};
  // With --only, lines of scenarios that were not asked for are left out (not counted missing).
  const only = values.only ? String(values.only).split(',') : undefined;
  let rules = only ? target.rules.filter((r) => only.some((o) => r.scenario.startsWith(o))) : target.rules;
  if (values.url) {
    // A core we did not start has no probe: its heap per socket cannot be measured.
    rules = rules.filter((r) => r.metric !== 'heapPerSocketRatio');
    notes.push(`Core given with --url ${values.url}: heap-per-socket lines skipped; tokens signed with this process's JWT_* settings.`);
  }
  // A slowed or foreign core is measured against nothing recorded, and never recorded.
  const modifiedCore = Boolean(values['inject-delay-ms'] || values['inject-cpu-ms'] || values['inject-alloc-kb'] || values.url);
  const baseline = modifiedCore ? undefined : baselineAll[profile.name];
  // The recent runs of main (committed): a ratio beyond their median + k × MAD fails (after one re-measure).
  const historyFile = String(values.history ?? path.join(here, 'history', `${profile.name}.json`));
  const historyEntries = fs.existsSync(historyFile) ? JSON.parse(fs.readFileSync(historyFile, 'utf8')) as HistoryEntry[] : [];
  const history = target.history && !values.url ? { rule: target.history, entries: historyEntries } : undefined;
  const gateOptions = { invalidIsNoise: target.invalidIsNoise, history };
  let gate = decide(rules, outcomesOf(records), target.drift, baseline, gateOptions);
  if ((gate.verdict === 'breach' || gate.verdict === 'invalid') && values.confirm !== '0') {
    // Shared 2-core machines are noisy: a breached (or invalid) scenario is measured again, with its
    // baseline, and only a breach that repeats fails the gate. A real regression repeats.
    const again = new Set(gate.lines.filter((l) => l.status === 'breach' || l.status === 'invalid').map((l) => l.scenario));
    notes.push(`First measurement: ${gate.verdict}; ${gate.lines.filter((l) => l.status !== 'pass').map((l) => `${l.line} → ${l.actual} (${l.status})`).join('; ')}. Re-measured: ${[...again].join(', ')}.`);
    log(`${gate.verdict.toUpperCase()} on ${[...again].join(', ')}: measuring those again (with their baselines) to confirm`);
    try {
      const rerun = await runSuite(sut, profile, { log, only: again });
      const byId = new Map(records.map((r) => [r.id, r]));
      for (const r of rerun) byId.set(r.id, r);
      records = [...byId.values()];
    } catch (error) {
      log(`HARNESS FAULT during the confirmation run: ${(error as Error).stack ?? error}`);
      await sut.stop();
      return { exitCode: EXIT.fault };
    }
    gate = decide(rules, outcomesOf(records), target.drift, baseline, gateOptions);
  }
  await sut.stop();
  const report = toReport({ profile: profile.name, startedAt, finishedAt: new Date().toISOString(), system: sut.describe, preflight: pf, records, gate, baselineFile: String(values.baseline), notes });
  const files = writeReport(outDir, report, records);
  printTable(gate);
  log(`report: ${files.md} (+ .json with encoded histograms, .svg chart)`);
  if (values['save-baseline'] && target.drift) {
    const keep: Baseline = {};
    for (const r of records) {
      const m = Object.fromEntries(target.drift.metrics.filter((k) => r.metrics[k] !== undefined).map((k) => [k, r.metrics[k]!]));
      if (Object.keys(m).length && r.valid) keep[r.id] = m;
    }
    baselineAll[profile.name] = keep;
    fs.writeFileSync(String(values.baseline), `${JSON.stringify(baselineAll, null, 2)}\n`);
    log(`baseline for profile ${profile.name} saved to ${values.baseline}`);
  }
  if (values['record-history'] && target.history) {
    if (gate.verdict !== 'pass' || modifiedCore) {
      log(`history not recorded: only a passing run of the unmodified local core is (verdict ${gate.verdict})`);
    } else {
      const entry = historyEntryOf(target.history, outcomesOf(records), startedAt, process.env.GITHUB_SHA ?? gitHead());
      fs.mkdirSync(path.dirname(historyFile), { recursive: true });
      fs.writeFileSync(historyFile, `${JSON.stringify([...historyEntries, entry].slice(-50), null, 2)}\n`);
      log(`history: this run's ratios appended to ${historyFile} (commit it on main)`);
    }
  }
  log(gate.verdict === 'pass' ? 'GATE PASS' : gate.verdict === 'breach' ? `GATE FAIL: breached ${gate.breached.map((l) => `"${l.line}" (actual ${l.actual ?? l.note ?? 'none'})`).join(', ')}` : `GATE ${gate.verdict.toUpperCase()}`);
  return { exitCode: gate.exitCode, gate, files };
}

function gitHead(): string | undefined {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: here, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

function printTable(gate: GateVerdict): void {
  const rows = gate.lines.map((l) => [l.status === 'pass' ? 'ok' : l.status.toUpperCase(), l.line, l.actual === null ? (l.status === 'breach' && l.note ? `— (${l.note})` : '—') : String(l.actual)]);
  const w0 = Math.max(...rows.map((r) => r[0]!.length));
  const w1 = Math.max(...rows.map((r) => r[1]!.length));
  for (const r of rows) log(`${r[0]!.padEnd(w0)}  ${r[1]!.padEnd(w1)}  ${r[2]}`);
}

if (require.main === module) {
  main(process.argv.slice(2)).then((r) => process.exit(r.exitCode), (error: Error) => {
    log(`HARNESS FAULT: ${error.stack ?? error.message}`);
    process.exit(EXIT.fault);
  });
}

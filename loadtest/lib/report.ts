import fs from 'node:fs';
import path from 'node:path';
import type { GateVerdict } from './gate';
import type { Preflight } from './preflight';
import type { ScenarioRecord } from './suite';

export interface RunReport {
  version: 1;
  profile: string;
  startedAt: string;
  finishedAt: string;
  system: Record<string, string>;
  preflight: Preflight;
  scenarios: (Omit<ScenarioRecord, 'histograms'> & { histograms: Record<string, { encoded: string; count: number }> })[];
  gate: GateVerdict;
  baselineFile?: string;
  notes: string[];
}

export function toReport(args: Omit<RunReport, 'version' | 'scenarios'> & { records: ScenarioRecord[] }): RunReport {
  const { records, ...rest } = args;
  return {
    version: 1,
    ...rest,
    scenarios: records.map((r) => ({ ...r, histograms: Object.fromEntries(Object.entries(r.histograms).map(([k, h]) => [k, { encoded: h.encode(), count: h.count }])) })),
  };
}

const cell = (v: unknown) => (v === undefined || v === null ? '—' : typeof v === 'number' ? (Number.isFinite(v) ? String(v) : v === Number.POSITIVE_INFINITY ? '∞' : 'n/a') : String(v));

export function markdown(report: RunReport, records: ScenarioRecord[]): string {
  const out: string[] = [];
  out.push(`# Load test — profile \`${report.profile}\` — ${report.gate.verdict.toUpperCase()} (exit ${report.gate.exitCode})`, '');
  out.push(`Started ${report.startedAt}, finished ${report.finishedAt}. ${Object.entries(report.system).map(([k, v]) => `${k}: ${v}`).join('; ')}.`, '');
  const pf = report.preflight;
  out.push(`Preflight: node ${pf.node}, ${pf.cpus} × ${pf.cpuModel}, load ${pf.loadAverage.join('/')}, ulimit -n ${pf.ulimitNoFile.soft}/${pf.ulimitNoFile.hard}, ports ${pf.localPortRange?.join('-')}, transport ${pf.transport}, client perMessageDeflate ${pf.clientPerMessageDeflate}, native add-ons ${Object.entries(pf.nativeAddons).map(([k, v]) => `${k}=${v}`).join(' ')}.`, '');
  const api = records.filter((r) => r.kind === 'api-open' || r.kind === 'api-closed');
  if (api.length) {
    out.push('## API (ms, from the intended send time in the open model)', '', '| scenario | target | model | req/s | p50 | p95 | p99 | max | errors | p95 × bare | CPU ms/req | CPU/req × bare | DB ops/req | ELU | core CPU | mongo CPU | valid |', '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const r of api) {
      const m = r.metrics;
      out.push(`| ${r.id} | ${r.target} | ${r.kind === 'api-open' ? `open @${r.params.rate}` : `closed ×${r.params.connections}`} | ${cell(m.achievedRate)} | ${cell(m.p50)} | ${cell(m.p95)} | ${cell(m.p99)} | ${cell(m.max)} | ${cell(m.errorRate)} | ${cell(m.p95RatioToBaseline ?? m.reqPerSRatioToBaseline)} | ${cell(m.cpuMsPerRequest)} | ${cell(m.cpuPerRequestRatioToBaseline)} | ${cell(m.dbOpsPerRequest)} | ${cell(m.serverElu)} | ${cell(m.coreCpuShare)} | ${cell(m.mongoCpuShare)} | ${r.valid ? 'yes' : `NO: ${r.invalidReason}`} |`);
    }
    out.push('');
  }
  const rt = records.filter((r) => r.kind === 'realtime');
  if (rt.length) {
    out.push('## Real-time (ms; delivery = intended send → receive, all recipients merged)', '', '| scenario | target | sockets | offered msg/s | acked msg/s | delivery p50 | p95 | p99 | ack p95 | connect p95 | lost | dup | heap/socket KB | server CPU | CPU ms/msg sent | CPU ms/msg acked | CPU µs/delivery | CPU/msg acked × relay | DB ops/msg | ELU | mongo CPU | p95 × relay | heap × relay | valid |', '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const r of rt) {
      const m = r.metrics;
      out.push(`| ${r.id} | ${r.target} | ${cell(m.connected)}/${cell(m.sockets)} | ${cell(m.rate)} | ${cell(m.achievedAckRate)} | ${cell(m.deliveryP50)} | ${cell(m.deliveryP95)} | ${cell(m.deliveryP99)} | ${cell(m.ackP95)} | ${cell(m.connectP95)} | ${cell(m.lost)} | ${cell(m.duplicated)} | ${cell(m.heapPerSocketKB)} | ${cell(m.serverCpuShare)} | ${cell(m.cpuMsPerMessage)} | ${cell(m.cpuMsPerHandledMessage)} | ${cell(m.cpuUsPerDelivery)} | ${cell(m.cpuPerHandledMessageRatioToBaseline)} | ${cell(m.dbOpsPerMessage)} | ${cell(m.serverElu)} | ${cell(m.mongoCpuShare)} | ${cell(m.deliveryP95RatioToBaseline)} | ${cell(m.heapPerSocketRatio)} | ${r.valid ? 'yes' : `NO: ${r.invalidReason}`} |`);
    }
    out.push('');
  }
  // Why the tail is what it is: how much each message or request allocates decides how often the collector stops the process.
  const gcRows = records.filter((r) => r.metrics.gcMsPerS !== undefined);
  if (gcRows.length) {
    out.push('## Garbage collection (the server\'s own V8 records over each measured window)', '', '| scenario | target | allocated KB per msg acked / per request | × baseline (relay / bare route) | GC pause ms per s | longest pause ms | scavenges | full collections |', '| --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const r of gcRows) {
      const m = r.metrics;
      out.push(`| ${r.id} | ${r.target} | ${cell(m.allocKBPerMessage ?? m.allocKBPerRequest)} | ${cell(m.allocPerMessageRatioToBaseline ?? m.allocPerRequestRatioToBaseline)} | ${cell(m.gcMsPerS)} | ${cell(m.gcMaxPauseMs)} | ${cell(m.gcMinor)} | ${cell(m.gcMajor)} |`);
    }
    out.push('');
  }
  const summaries = records.filter((r) => r.kind === 'saturation' || r.kind === 'api-ramp');
  if (summaries.length) {
    out.push('## Saturation and ramps', '');
    for (const r of summaries) out.push(`- **${r.id}**: ${Object.entries(r.metrics).map(([k, v]) => `${k} ${cell(v)}`).join(', ')}`);
    out.push('');
  }
  out.push('## Generator health', '', '| scenario | event-loop delay p99 ms | max ms | CPU (share of a core) | machine busy cores | valid |', '| --- | --- | --- | --- | --- | --- |');
  for (const r of records) if (r.generator) out.push(`| ${r.id} | ${r.generator.eventLoopDelayP99Ms} | ${r.generator.eventLoopDelayMaxMs} | ${r.generator.cpuShare} | ${cell(r.generator.machineBusyCores)} | ${r.generator.valid ? 'yes' : `NO: ${r.generator.reason}`} |`);
  out.push('', '## Gate', '', '| line | actual | limit | status |', '| --- | --- | --- | --- |');
  for (const l of report.gate.lines) out.push(`| ${l.line} | ${cell(l.actual)} | ${l.limit} | ${l.status === 'pass' ? 'pass' : `**${l.status.toUpperCase()}**`}${l.note && l.status !== 'pass' ? ` (${l.note})` : ''} |`);
  out.push('');
  if (report.gate.breached.length) out.push(`**Breached:** ${report.gate.breached.map((l) => `\`${l.line}\` (actual ${l.actual === null && l.note ? l.note : cell(l.actual)})`).join('; ')}`, '');
  if (report.notes.length) out.push('## Notes', '', ...report.notes.map((n) => `- ${n}`), '');
  return out.join('\n');
}

/** Percentile-distribution chart (x: percentile on a "nines" scale, y: latency, log scale) per histogram. */
export function svgChart(records: ScenarioRecord[], title: string): string {
  const series = records.flatMap((r) => Object.entries(r.histograms)
    .filter(([name, h]) => h.count > 0 && name !== 'connect')
    .map(([name, h]) => ({ label: `${r.id} ${name}`, points: h.curve([0, 50, 75, 90, 95, 99, 99.5, 99.9, 99.99]) })));
  const W = 900, H = 520, L = 70, R = 300, T = 40, B = 50;
  const nines = (p: number) => (p >= 100 ? 5 : -Math.log10(1 - p / 100));
  const xMax = 4;
  const all = series.flatMap((s) => s.points.map(([, v]) => v)).filter((v) => v > 0);
  const yMin = Math.max(0.01, Math.min(...all, 1));
  const yMax = Math.max(...all, 10);
  const lx = (p: number) => L + (Math.min(nines(p), xMax) / xMax) * (W - L - R);
  const ly = (v: number) => T + (1 - (Math.log10(Math.max(v, yMin)) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) * (H - T - B);
  const colors = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
  const out: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`, `<rect width="${W}" height="${H}" fill="white"/>`, `<text x="${L}" y="20" font-size="14">${escape(title)}</text>`];
  for (const p of [0, 90, 99, 99.9, 99.99]) out.push(`<line x1="${lx(p)}" y1="${T}" x2="${lx(p)}" y2="${H - B}" stroke="#ddd"/><text x="${lx(p)}" y="${H - B + 15}" text-anchor="middle">p${p}</text>`);
  for (let e = Math.floor(Math.log10(yMin)); e <= Math.ceil(Math.log10(yMax)); e++) {
    const v = 10 ** e;
    if (v < yMin || v > yMax) continue;
    out.push(`<line x1="${L}" y1="${ly(v)}" x2="${W - R}" y2="${ly(v)}" stroke="#ddd"/><text x="${L - 5}" y="${ly(v) + 4}" text-anchor="end">${v} ms</text>`);
  }
  out.push(`<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle">percentile</text>`);
  series.forEach((s, i) => {
    const color = colors[i % colors.length];
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${s.points.map(([p, v]) => `${lx(p).toFixed(1)},${ly(v).toFixed(1)}`).join(' ')}"/>`);
    out.push(`<rect x="${W - R + 15}" y="${T + i * 16 - 8}" width="10" height="10" fill="${color}"/><text x="${W - R + 30}" y="${T + i * 16}">${escape(s.label)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}

const escape = (s: string) => s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);

export function writeReport(dir: string, report: RunReport, records: ScenarioRecord[]): { json: string; md: string; svg: string } {
  fs.mkdirSync(dir, { recursive: true });
  const stamp = report.startedAt.replace(/[:.]/g, '-');
  const base = path.join(dir, `${stamp}-${report.profile}`);
  const files = { json: `${base}.json`, md: `${base}.md`, svg: `${base}.svg` };
  fs.writeFileSync(files.json, JSON.stringify(report, null, 2));
  fs.writeFileSync(files.md, `${markdown(report, records)}\n![latency](${path.basename(files.svg)})\n`);
  fs.writeFileSync(files.svg, svgChart(records, `Switchboard load test (${report.profile}) — latency by percentile`));
  return files;
}

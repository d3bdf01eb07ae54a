import fs from 'node:fs';

interface ProfileNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number; children?: number[] }
interface CpuProfile { nodes: ProfileNode[]; startTime: number; endTime: number; samples?: number[]; timeDeltas?: number[] }

export interface ProfileSummary {
  totalMs: number;
  idleMs: number;
  topFunctions: { name: string; where: string; selfMs: number; share: number }[];
  byArea: { area: string; selfMs: number; share: number }[];
}

/** Groups a file into an area: a package name under node_modules, a repository folder, or node internals. */
export function areaOf(url: string): string {
  if (!url) return '(native/gc/program)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`;
  const m = /\/(core\/src\/[^/]+)\//.exec(url) ?? /\/(core\/src)\//.exec(url);
  if (m) return m[1]!;
  return url.replace(/^file:\/\//, '').split('/').slice(-2).join('/');
}

/** A profile frame's place, short: from node_modules/, core/ or loadtest/ on, 1-based line. */
export const whereOf = (url: string, lineNumber: number) => `${url.replace(/^file:\/\//, '').replace(/^.*?\/(node_modules|core|loadtest)\//, '$1/')}:${lineNumber + 1}`;

/** Self time per function and per area from a V8 .cpuprofile (sample counts × sampling interval). */
export function summarizeProfile(file: string, top = 20): ProfileSummary {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) selfUs.set(samples[i]!, (selfUs.get(samples[i]!) ?? 0) + (deltas[i + 1] ?? deltas[i] ?? 0));
  const totalUs = profile.endTime - profile.startTime;
  let idleUs = 0;
  const fn = new Map<string, { name: string; where: string; us: number }>();
  const area = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') { idleUs += us; continue; }
    const where = whereOf(url, lineNumber);
    const key = `${functionName}@${where}`;
    const f = fn.get(key) ?? { name: functionName || '(anonymous)', where, us: 0 };
    f.us += us;
    fn.set(key, f);
    // Built-ins without a script (writev, writeBuffer, ...) are named by function: they are syscalls.
    const a = functionName.startsWith('(') ? functionName : url ? areaOf(url) : `(native) ${functionName}`;
    area.set(a, (area.get(a) ?? 0) + us);
  }
  const busyUs = Math.max(1, totalUs - idleUs);
  return {
    totalMs: Math.round(totalUs / 1000),
    idleMs: Math.round(idleUs / 1000),
    topFunctions: [...fn.values()].sort((a, b) => b.us - a.us).slice(0, top).map((f) => ({ name: f.name, where: f.where, selfMs: Math.round(f.us / 1000), share: Math.round((f.us / busyUs) * 1000) / 10 })),
    byArea: [...area.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).map(([a, us]) => ({ area: a, selfMs: Math.round(us / 1000), share: Math.round((us / busyUs) * 1000) / 10 })),
  };
}

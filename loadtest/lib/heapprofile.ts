import fs from 'node:fs';
import { areaOf, whereOf } from './cpuprofile';

/** The inspector's SamplingHeapProfile (HeapProfiler.stopSampling): sizes are V8's estimates in bytes. */
interface HeapNode { id: number; selfSize: number; callFrame: { functionName: string; url: string; lineNumber: number }; children: HeapNode[] }
interface HeapProfile { head: HeapNode }

export interface HeapProfileSummary {
  totalMB: number;
  topFunctions: { name: string; where: string; MB: number; share: number }[];
  byArea: { area: string; MB: number; share: number }[];
}

/** The heap profile written next to a CPU profile of the same window. */
export const heapProfileFile = (cpuProfileFile: string) => cpuProfileFile.replace(/\.cpuprofile$/, '') + '.heapprofile';

/** Bytes allocated (as sampled) per allocating function and per area (a package, a core folder, node internals). */
export function summarizeHeapProfile(file: string, top = 20): HeapProfileSummary {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as HeapProfile;
  const fn = new Map<string, { name: string; where: string; bytes: number }>();
  const area = new Map<string, number>();
  let total = 0;
  const stack: HeapNode[] = [profile.head];
  while (stack.length) {
    const node = stack.pop()!;
    stack.push(...(node.children ?? []));
    if (!node.selfSize) continue;
    total += node.selfSize;
    const { functionName, url, lineNumber } = node.callFrame;
    const where = whereOf(url, lineNumber);
    const key = `${functionName}@${where}`;
    const f = fn.get(key) ?? { name: functionName || '(anonymous)', where, bytes: 0 };
    f.bytes += node.selfSize;
    fn.set(key, f);
    const a = url ? areaOf(url) : `(native) ${functionName || '(anonymous)'}`;
    area.set(a, (area.get(a) ?? 0) + node.selfSize);
  }
  const mb = (bytes: number) => Math.round((bytes / 1_048_576) * 10) / 10;
  const share = (bytes: number) => Math.round((bytes / Math.max(1, total)) * 1000) / 10;
  return {
    totalMB: mb(total),
    topFunctions: [...fn.values()].sort((a, b) => b.bytes - a.bytes).slice(0, top).map((f) => ({ name: f.name, where: f.where, MB: mb(f.bytes), share: share(f.bytes) })),
    byArea: [...area.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).map(([a, bytes]) => ({ area: a, MB: mb(bytes), share: share(bytes) })),
  };
}

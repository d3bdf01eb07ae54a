import { formatMs } from '../cli/output';
import { preflightItems, type ItemStatus, type PreflightContext, type PreflightItem } from './items';

export interface ItemResult {
  id: string;
  title: string;
  status: ItemStatus;
  detail: string;
  ms: number;
}

export interface PreflightReport {
  env: string;
  ok: boolean;
  items: ItemResult[];
  /** Items the operator skipped, with the reason recorded (--skip-preflight / OPS_SKIP_PREFLIGHT). */
  skippedByOperator: Record<string, string>;
  failed: string[];
}

/** Per-item time budget: a probe that hangs (firewalled host) fails its item, not the whole run. */
const ITEM_TIMEOUT_MS = 10 * 60_000;

/**
 * Runs the items in order, each timed; a throwing probe is that item's failure (its message is the
 * detail). Items the operator skipped are recorded as skipped with who asked. Prints one ✓/✗/– line per item.
 */
export async function runPreflight(ctx: PreflightContext, options: { skip?: Record<string, string>; items?: PreflightItem[]; print?: (line: string) => void } = {}): Promise<PreflightReport> {
  const skip = options.skip ?? {};
  const results: ItemResult[] = [];
  for (const item of options.items ?? preflightItems) {
    const started = performance.now();
    let outcome: { status: ItemStatus; detail: string };
    if (skip[item.id] !== undefined) outcome = { status: 'skipped', detail: `skipped by operator: ${skip[item.id]}` };
    else {
      try {
        outcome = await withTimeout(item.run(ctx), ITEM_TIMEOUT_MS, item.title);
      } catch (error) {
        outcome = { status: 'failed', detail: (error as Error).message.split('\n')[0] ?? String(error) };
      }
    }
    const result = { id: item.id, title: item.title, ...outcome, ms: Math.round(performance.now() - started) };
    results.push(result);
    options.print?.(formatItem(result));
  }
  const failed = results.filter((r) => r.status === 'failed').map((r) => r.title);
  return { env: ctx.env, ok: failed.length === 0, items: results, skippedByOperator: skip, failed };
}

const mark: Record<ItemStatus, string> = { passed: '✓', failed: '✗', skipped: '–' };

export const formatItem = (r: ItemResult): string => `${mark[r.status]} ${r.title.padEnd(32)} ${formatMs(r.ms).padStart(8)}  ${r.detail}`;

export function formatReport(report: PreflightReport): string {
  const counts = (s: ItemStatus) => report.items.filter((i) => i.status === s).length;
  const head = report.ok ? `preflight ${report.env}: passed` : `preflight ${report.env}: FAILED (${report.failed.join(', ')})`;
  return `${head} — ${counts('passed')} passed, ${counts('failed')} failed, ${counts('skipped')} skipped`;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${formatMs(ms)}`)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * The operator's skip list from `--skip-preflight <id>` (repeatable, `<id>=<reason>` allowed) and
 * OPS_SKIP_PREFLIGHT (comma-separated, same form); `all` skips every item. Unknown ids are refused.
 */
export function parseSkips(flags: string[] | undefined, envValue: string | undefined, known: string[], flagName = '--skip-preflight'): Record<string, string> {
  const skips: Record<string, string> = {};
  const add = (entry: string, source: string) => {
    const at = entry.indexOf('=');
    const id = (at < 0 ? entry : entry.slice(0, at)).trim();
    const reason = at < 0 ? source : `${entry.slice(at + 1).trim()} (${source})`;
    if (!id) return;
    if (id === 'all') for (const k of known) skips[k] = reason;
    else if (known.includes(id)) skips[id] = reason;
    else throw new UnknownItemError(id, known);
  };
  for (const entry of (envValue ?? '').split(',')) add(entry, 'OPS_SKIP_PREFLIGHT');
  for (const entry of flags ?? []) add(entry, flagName);
  return skips;
}

export class UnknownItemError extends Error {
  constructor(readonly id: string, readonly known: string[]) {
    super(`unknown preflight item "${id}" (items: ${known.join(', ')}, or all)`);
  }
}

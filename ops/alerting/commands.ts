import { localLinks, type LinkSettings } from '../../alerts/links';
import { describeUnknown, EXIT_UNKNOWN, formatMs, OpsError } from '../cli/output';
import type { CommandHandler } from '../cli/types';
import { stateFor } from '../commands/common';
import { parseDuration, whoOf } from '../state/context';
import { stackSetting } from '../state/stacks';
import { runDrill, type DrillResult } from './drill';
import { alertmanagerUrlOf } from './maintenance-silence';

/**
 * `ops alerts drill --env <env>`: the pager path fire drill (./drill.ts). Exit 0 only when
 * Alertmanager confirmed a request to the paging service succeeded; 1 when it failed or was not
 * confirmed in time; 4 (unknown) when Alertmanager is not configured or cannot be reached.
 */

/** The links the drill page carries: the stack's switchboard:observability, local ones locally. */
function linksOf(env: string): LinkSettings {
  if (env === 'local') return localLinks;
  const runbookBaseUrl = stackSetting(env, 'switchboard:observability.runbookBaseUrl');
  const grafanaUrl = stackSetting(env, 'switchboard:observability.grafanaUrl');
  return runbookBaseUrl && grafanaUrl ? { runbookBaseUrl, grafanaUrl } : localLinks;
}

const human = (r: DrillResult): string => {
  if (r.outcome === 'delivered') return `pager path of ${r.env}: delivered (Alertmanager → ${r.receivers?.join(', ') ?? 'pager'}, confirmed after ${formatMs(r.deliveredAfterMs ?? 0)}; drill_id ${r.drillId}). The on-call phone should show "DRILL, not an incident"; acknowledge it.`;
  if (r.outcome === 'unknown') return describeUnknown({ what: `pager path of ${r.env}`, reason: r.reason ?? '?', next: r.next ?? '' });
  return `pager path of ${r.env}: FAILED (${r.reason}) → next: ${r.next}`;
};

export const handlers: Record<string, CommandHandler> = {
  async 'alerts drill'(ctx) {
    const { env, state } = stateFor(ctx);
    const timeoutMs = parseDuration(typeof ctx.values.timeout === 'string' ? ctx.values.timeout : '7m');
    if (timeoutMs < 1_000) throw new OpsError('--timeout must be at least 1s', 'e.g. --timeout 7m', 2);
    const operator = whoOf(ctx.env);
    const started = Date.now();
    const result = await runDrill({ alertmanagerUrl: alertmanagerUrlOf(ctx.values, ctx.env, env), env, operator, links: linksOf(env), timeoutMs, out: ctx.out });
    const outcome = result.outcome === 'delivered' ? 'succeeded' : result.outcome === 'failed' ? 'failed' : 'info';
    const detail = result.outcome === 'delivered'
      ? `pager path delivered after ${formatMs(result.deliveredAfterMs ?? 0)} (drill_id ${result.drillId})`
      : `pager path ${result.outcome}: ${result.reason} (drill_id ${result.drillId})`;
    await state.appendAudit({ who: operator, env, action: 'alerts.drill', outcome, detail, durationMs: Date.now() - started });
    ctx.out.result(result, human(result));
    if (result.outcome === 'unknown') return EXIT_UNKNOWN;
    // Failed: the result already says why and what next (one JSON document with --json).
    return result.outcome === 'failed' ? 1 : 0;
  },
};

import { formatMs } from '../cli/output';
import type { CommandHandler } from '../cli/types';
import { positiveInt, whoOf } from '../state/context';
import { previousGood } from '../state/releases';
import { stateFor, targetFor } from './common';
import { currentRelease } from './release-flow';

export const handlers: Record<string, CommandHandler> = {
  async releases(ctx) {
    const { env, state } = stateFor(ctx);
    const all = await state.listReleases(env);
    const current = currentRelease(all);
    const shown = all.slice(-positiveInt(ctx.values.limit, 'limit', 20)).reverse();
    const rows = shown.map((r) => [
      `${r.id === current?.id ? '*' : ' '}${r.id}`,
      r.version,
      r.who,
      r.startedAt.replace('T', ' ').slice(0, 19),
      r.status,
      r.durationMs === undefined ? '-' : formatMs(r.durationMs),
      `${r.description}${r.build?.pruned ? ' [build pruned]' : ''}${r.error ? ` — ${r.error}` : ''}`,
    ]);
    const header = ['ID', 'VERSION', 'WHO', 'WHEN (UTC)', 'STATUS', 'DURATION', 'DESCRIPTION'];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const table = [header, ...rows].map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 1))).join(' ')).join('\n');
    ctx.out.result(
      { env, state: state.description, current: current?.id, releases: shown },
      all.length ? `${table}\n(* = serving; roll back with: ops rollback --env ${env} [--to <id>])` : `no releases in ${env} yet: ops deploy --env ${env}`,
    );
  },

  async 'releases prune'(ctx) {
    const { target, env, state } = targetFor(ctx);
    const keep = positiveInt(ctx.values.keep ?? ctx.env.OPS_KEEP_RELEASES, 'keep', 5);
    const all = await state.listReleases(env);
    const current = currentRelease(all);
    const protect = new Set([current?.artifact, previousGood(all, current)?.artifact].filter((x): x is string => Boolean(x)));
    const removed = target.prune ? await ctx.out.step(`prune builds beyond the newest ${keep}`, () => target.prune!(keep, protect)) : [];
    await state.appendAudit({ who: whoOf(ctx.env), env, action: 'releases.prune', outcome: 'succeeded', detail: removed.length ? `removed builds ${removed.join(', ')}` : 'nothing to remove' });
    ctx.out.result({ env, keep, removed, kept: [...protect] }, removed.length ? `removed builds: ${removed.join(', ')} (records stay in ops releases)` : `nothing to prune (keeping ${keep}; protected: ${[...protect].join(', ') || 'none'})`);
  },
};

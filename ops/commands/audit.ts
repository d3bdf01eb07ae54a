import type { CommandHandler } from '../cli/types';
import type { AuditEntry } from '../state/audit-log';
import { positiveInt } from '../state/context';
import { stateFor } from './common';

export const handlers: Record<string, CommandHandler> = {
  async audit(ctx) {
    const env = typeof ctx.values.env === 'string' && !ctx.values.all ? ctx.values.env : undefined;
    // The backend of --env (or $OPS_ENV): a shared S3 history holds every runner's entries.
    const { state } = stateFor(ctx);
    const entries = await state.readAudit({ env, limit: positiveInt(ctx.values.limit, 'limit', 50) });
    const standard = new Set(['at', 'who', 'env', 'action', 'outcome', 'release', 'detail']);
    const extra = (e: AuditEntry) => Object.entries(e).filter(([k, v]) => !standard.has(k) && v !== undefined).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(' ');
    const lines = entries.map((e) => [e.at.replace('T', ' ').slice(0, 19), e.env.padEnd(8), e.who.padEnd(18), e.action.padEnd(16), e.outcome.padEnd(9), e.release ?? '', e.detail ?? '', extra(e)].filter(Boolean).join(' ').replace(/^(\S+ \S+)/, '$1 '));
    ctx.out.result({ entries }, entries.length ? lines.join('\n') : 'the audit log is empty');
  },
};

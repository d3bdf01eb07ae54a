import { describeUnknown, EXIT_UNKNOWN, OpsError } from '../cli/output';
import type { CommandHandler } from '../cli/types';
import { alertmanagerUrlOf, expireMaintenance, silenceMaintenance } from '../alerting/maintenance-silence';
import { parseDuration, positiveInt, whoOf } from '../state/context';
import type { MaintenanceStatus } from '../targets/target';
import { withCommandLock } from './command-lock';
import { targetFor } from './common';

const describe = (m: MaintenanceStatus) =>
  m.unknown ? describeUnknown(m.unknown) : m.on ? `maintenance ON since ${m.since ?? '?'}: "${m.message}" (Retry-After ${m.retryAfter} s; front door ${m.frontDoor ? 'on' : 'off'}, core flag ${m.coreFlag ? 'on' : 'off'})` : 'maintenance off';

export const handlers: Record<string, CommandHandler> = {
  async 'maintenance on'(ctx) {
    const { target, env, state } = targetFor(ctx);
    const message = (ctx.values.message as string | undefined) ?? 'Switchboard is down for maintenance.';
    if (message.length > 500) throw new OpsError('--message is limited to 500 characters', undefined, 2);
    const retryAfter = positiveInt(ctx.values['retry-after'], 'retry-after', 120);
    if (retryAfter < 1 || retryAfter > 86_400) throw new OpsError('--retry-after must be 1..86400 seconds', undefined, 2);
    const durationMs = parseDuration(typeof ctx.values.duration === 'string' ? ctx.values.duration : '2h');
    await withCommandLock(ctx, { env, state, action: 'maintenance.on', message: `maintenance on: ${message}` }, async () => {
      // Silence first, so the outage's own alerts never page; an unreachable Alertmanager only warns.
      const now = new Date();
      const silence = await silenceMaintenance({ alertmanagerUrl: alertmanagerUrlOf(ctx.values, ctx.env, env), env, operator: whoOf(ctx.env), message, now, endsAt: new Date(now.getTime() + durationMs), out: ctx.out });
      const status = await target.setMaintenance({ message, retryAfter, since: now.toISOString() }, ctx.out);
      await state.appendAudit({ who: whoOf(ctx.env), env, action: 'maintenance.on', outcome: 'succeeded', detail: `${message} (Retry-After ${retryAfter}); ${silence.audit}` });
      ctx.out.result({ env, maintenance: status, silence }, `${describe(status)}\nEnd it with: ops maintenance off --env ${env}`);
    });
  },
  async 'maintenance off'(ctx) {
    const { target, env, state } = targetFor(ctx);
    await withCommandLock(ctx, { env, state, action: 'maintenance.off', message: 'maintenance off' }, async () => {
      const status = await target.setMaintenance(undefined, ctx.out);
      // The silence only ends once maintenance really is off (still on: the alerts stay explained).
      const silence = status.on ? undefined : await expireMaintenance({ alertmanagerUrl: alertmanagerUrlOf(ctx.values, ctx.env, env), env, out: ctx.out });
      await state.appendAudit({ who: whoOf(ctx.env), env, action: 'maintenance.off', outcome: status.on ? 'failed' : 'succeeded', ...(silence ? { detail: silence.audit } : {}) });
      if (status.on) throw new OpsError(`maintenance is still reported on: ${describe(status)}`, `ops maintenance status --env ${env}`);
      ctx.out.result({ env, maintenance: status, silence }, describe(status));
    });
  },
  async 'maintenance status'(ctx) {
    const { target, env } = targetFor(ctx);
    const status = await target.maintenance();
    ctx.out.result({ env, maintenance: status, known: !status.unknown }, describe(status));
    return status.unknown ? EXIT_UNKNOWN : 0;
  },
};

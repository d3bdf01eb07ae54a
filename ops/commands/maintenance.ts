import { describeUnknown, EXIT_UNKNOWN, OpsError } from '../cli/output';
import type { CommandHandler } from '../cli/types';
import { positiveInt, whoOf } from '../state/context';
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
    await withCommandLock(ctx, { env, state, action: 'maintenance.on', message: `maintenance on: ${message}` }, async () => {
      const status = await target.setMaintenance({ message, retryAfter, since: new Date().toISOString() }, ctx.out);
      await state.appendAudit({ who: whoOf(ctx.env), env, action: 'maintenance.on', outcome: 'succeeded', detail: `${message} (Retry-After ${retryAfter})` });
      ctx.out.result({ env, maintenance: status }, `${describe(status)}\nEnd it with: ops maintenance off --env ${env}`);
    });
  },
  async 'maintenance off'(ctx) {
    const { target, env, state } = targetFor(ctx);
    await withCommandLock(ctx, { env, state, action: 'maintenance.off', message: 'maintenance off' }, async () => {
      const status = await target.setMaintenance(undefined, ctx.out);
      await state.appendAudit({ who: whoOf(ctx.env), env, action: 'maintenance.off', outcome: status.on ? 'failed' : 'succeeded' });
      if (status.on) throw new OpsError(`maintenance is still reported on: ${describe(status)}`, `ops maintenance status --env ${env}`);
      ctx.out.result({ env, maintenance: status }, describe(status));
    });
  },
  async 'maintenance status'(ctx) {
    const { target, env } = targetFor(ctx);
    const status = await target.maintenance();
    ctx.out.result({ env, maintenance: status, known: !status.unknown }, describe(status));
    return status.unknown ? EXIT_UNKNOWN : 0;
  },
};

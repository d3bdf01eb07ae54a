import type { CommandHandler } from '../cli/types';
import { appendAudit } from '../state/audit-log';
import { whoOf } from '../state/context';
import { requireLocal, targetFor } from './common';

export const handlers: Record<string, CommandHandler> = {
  async stop(ctx) {
    const { target, env, stateDir } = targetFor(ctx);
    requireLocal(env, 'stop');
    await target.stop!(ctx.out);
    appendAudit(stateDir, { who: whoOf(ctx.env), env, action: 'stop', outcome: 'succeeded' });
    ctx.out.result({ env, stopped: true }, 'the local target is stopped. Start it again with: ops deploy');
  },
};

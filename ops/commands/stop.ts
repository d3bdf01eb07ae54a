import type { CommandHandler } from '../cli/types';
import { whoOf } from '../state/context';
import { withCommandLock } from './command-lock';
import { requireLocal, targetFor } from './common';

export const handlers: Record<string, CommandHandler> = {
  async stop(ctx) {
    const { target, env, state } = targetFor(ctx);
    requireLocal(env, 'stop');
    await withCommandLock(ctx, { env, state, action: 'stop', message: 'stop the local target' }, async () => {
      await target.stop!(ctx.out);
      await state.appendAudit({ who: whoOf(ctx.env), env, action: 'stop', outcome: 'succeeded' });
      ctx.out.result({ env, stopped: true }, 'the local target is stopped. Start it again with: ops deploy');
    });
  },
};

import type { CommandHandler } from '../cli/types';
import { runRelease } from './release-flow';

export const handlers: Record<string, CommandHandler> = {
  rollback: (ctx) => runRelease(ctx, 'rollback'),
};

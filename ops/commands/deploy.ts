import type { CommandHandler } from '../cli/types';
import { runRelease } from './release-flow';

export const handlers: Record<string, CommandHandler> = {
  deploy: (ctx) => runRelease(ctx, 'deploy'),
};

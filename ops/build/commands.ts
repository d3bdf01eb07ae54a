import path from 'node:path';
import { OpsError } from '../cli/output';
import type { CommandHandler } from '../cli/types';
import { repoRoot } from '../services/paths';
import { buildImage } from './image';
import { openPodman } from './podman';

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

export const handlers: Record<string, CommandHandler> = {
  async build(ctx) {
    const base = typeof ctx.values.base === 'string' ? ctx.values.base : undefined;
    const podman = await ctx.out.step('podman (runc, capped ulimits)', () => openPodman());
    const contextDir = path.join(repoRoot, 'var', 'build', 'image-context');
    let result;
    try {
      result = await ctx.out.step('build the image', () => buildImage({ podman, base, contextDir, log: (line) => ctx.out.info(`  ${line}`) }));
    } catch (error) {
      // A CommandError's message already carries what ran, how it ended and podman's last stderr lines.
      const message = (error as Error).message;
      throw new OpsError(`image build failed:\n${message}`, base === 'local' ? 'rerun with OPS_DEBUG=1; the cached base is in ~/.cache/switchboard/images (delete it to rebuild)' : 'no registry here? ops build --base local   # debootstrap + Node 24 from npm');
    }
    ctx.out.result(result, `${result.image}\n  digest ${result.digest}\n  id     ${result.id}\n  base   ${result.base}\n  size   ${mb(result.sizeBytes)}\n  steps  ${Object.entries(result.steps).map(([k, v]) => `${k} ${(v / 1000).toFixed(1)} s`).join(', ')}`);
  },
};

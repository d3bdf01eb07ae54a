import { configSpec } from '../../core/src/config';
import { OpsError, type Output } from '../cli/output';
import type { CommandContext, CommandHandler } from '../cli/types';
import { envOf, stateDirOf } from '../state/context';
import { defaultBackupLocation, stackSetting } from '../state/stacks';
import { createLocalTarget } from '../targets/local/local-target';
import { preflightItemIds, type PreflightContext, type PreflightProbes } from './items';
import { realProbes } from './probes';
import { formatReport, parseSkips, runPreflight, UnknownItemError, type PreflightReport } from './run';

const EDGE_HOST_KEY = 'switchboard:edge.host';

/** Test seam: probes and clock (the real ones otherwise). */
let overrides: { probes?: Partial<PreflightProbes>; now?: () => Date } = {};
export function injectPreflight(next: typeof overrides): void {
  overrides = next;
}

/**
 * What the environment runs with. Local: the settings the local target gives its instances (saved at
 * the last deploy, overridden by the shell), behind the front door. A stack: the core settings exported
 * in the ops shell (the stack's MONGODB_URI etc., as the pods get them) and the public URL: OPS_PUBLIC_URL,
 * else https://<switchboard:edge.host> from the committed stack file (the host the ingress and its
 * certificate serve), so `ops verify --env production` and preflight's TLS item need no export.
 */
export function environmentOf(ctx: Pick<CommandContext, 'values' | 'env'>): { env: string; settings: Record<string, string>; publicUrl?: string } {
  const env = envOf(ctx);
  if (env === 'local') {
    const target = createLocalTarget({ stateDir: stateDirOf(ctx), env: ctx.env });
    return { env, settings: target.state().settings, publicUrl: target.frontDoorUrl() };
  }
  const settings = Object.fromEntries(Object.keys(configSpec).flatMap((k) => (ctx.env[k] === undefined ? [] : [[k, ctx.env[k]!]])));
  const host = stackSetting(env, EDGE_HOST_KEY);
  return { env, settings, publicUrl: ctx.env.OPS_PUBLIC_URL ?? (host ? `https://${host}` : undefined) };
}

export function preflightContext(ctx: Pick<CommandContext, 'values' | 'env'>): PreflightContext {
  const { env, settings, publicUrl } = environmentOf(ctx);
  const probes = { ...realProbes, ...overrides.probes };
  // "MongoDB reachable" and "MongoDB indexes present" read the same facts: ask (and time out) once.
  const asked = new Map<string, Promise<Map<string, string[]>>>();
  const mongoIndexes = (uri: string, db: string) => {
    const key = `${uri}\n${db}`;
    if (!asked.has(key)) asked.set(key, probes.mongoIndexes(uri, db));
    return asked.get(key)!;
  };
  return { env, settings, publicUrl, opsEnv: ctx.env, backupLocation: defaultBackupLocation(env, ctx.env)?.value, now: overrides.now ?? (() => new Date()), probes: { ...probes, mongoIndexes } };
}

function skipsOf(flags: string[] | undefined, ctx: Pick<CommandContext, 'env'>, flag: string): Record<string, string> {
  try {
    return parseSkips(flags, ctx.env.OPS_SKIP_PREFLIGHT, preflightItemIds, flag);
  } catch (error) {
    if (error instanceof UnknownItemError) throw new OpsError(`${flag}: ${error.message}`, 'ops preflight --help', 2);
    throw error;
  }
}

/** The --dry-run line for the preflight step. */
export function preflightPlan(ctx: Pick<CommandContext, 'values' | 'env'>): string {
  const skip = skipsOf(ctx.values['skip-preflight'] as string[] | undefined, ctx, '--skip-preflight');
  const run = preflightItemIds.filter((id) => skip[id] === undefined);
  return `preflight: ${run.length ? run.join(', ') : 'no item'}; refuse the deploy if one fails${Object.keys(skip).length ? ` (skipped: ${Object.keys(skip).join(', ')})` : ''}`;
}

/** What a release record keeps of the preflight run. */
export interface PreflightRecord {
  ok: boolean;
  skipped: Record<string, string>;
  items: PreflightReport['items'];
}

/**
 * The first step of `ops deploy`: runs every item, and refuses the deploy naming each failed item
 * unless the operator skipped it (--skip-preflight <id>, recorded in the release).
 */
export async function deployPreflight(ctx: Pick<CommandContext, 'values' | 'env'>, out: Output): Promise<PreflightRecord> {
  const skip = skipsOf(ctx.values['skip-preflight'] as string[] | undefined, ctx, '--skip-preflight');
  const report = await out.step('preflight', async () => {
    const result = await runPreflight(preflightContext(ctx), { skip, print: (line) => out.info(`  ${line}`) });
    if (!result.ok) {
      const failures = result.items.filter((i) => i.status === 'failed').map((i) => `✗ ${i.title}: ${i.detail}`);
      const error = new OpsError(`refused by preflight: ${result.failed.join(', ')}\n${failures.join('\n')}`,
        `fix it, or deploy anyway with ${result.items.filter((i) => i.status === 'failed').map((i) => `--skip-preflight ${i.id}`).join(' ')} (recorded in the release)`);
      Object.assign(error, { preflight: result });
      throw error;
    }
    return result;
  });
  for (const [id, reason] of Object.entries(skip)) out.warn(`preflight item ${id} skipped: ${reason}`);
  return { ok: report.ok, skipped: skip, items: report.items };
}

export const handlers: Record<string, CommandHandler> = {
  async preflight(ctx) {
    const skip = skipsOf(ctx.values.skip as string[] | undefined, ctx, '--skip');
    const report = await runPreflight(preflightContext(ctx), { skip, print: (line) => ctx.out.info(line) });
    ctx.out.result(report, formatReport(report));
    if (report.ok) return 0;
    ctx.out.info(`next: fix the ✗ items above, then: ops preflight --env ${report.env}`);
    return 1;
  },
};

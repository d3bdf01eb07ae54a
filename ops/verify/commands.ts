import { signLocalToken, tokenSettingsFrom } from '../../core/src/auth/tokens';
import { loadConfig } from '../../core/src/config';
import { OpsError, type Output } from '../cli/output';
import type { CommandContext, CommandHandler } from '../cli/types';
import { environmentOf } from '../preflight/commands';
import { stateDirOf } from '../state/context';
import { internalUrlOf } from '../targets/local/instances';
import { createLocalTarget } from '../targets/local/local-target';
import { MAINTENANCE_ON, runVerify, type VerifyReport } from './verify';

/**
 * Where and as whom `ops verify` runs. Local: the front door, and each running instance's internal
 * listener (METRICS_PORT) for /metrics. A stack: OPS_PUBLIC_URL, else https://<switchboard:edge.host> (the instances' internal listeners are
 * not reachable from here; Prometheus scrapes them, so the instance check is skipped). Tokens are signed
 * with the environment's first HS256 key (JWT_HS256_KEYS, e.g. a dedicated `ops-verify` kid next to
 * the identity provider's JWKS), valid for 5 minutes.
 */
export function verifyInputs(ctx: Pick<CommandContext, 'values' | 'env'>): Parameters<typeof runVerify>[0] {
  const { env, settings, publicUrl } = environmentOf(ctx);
  const metricsUrls = env === 'local' ? createLocalTarget({ stateDir: stateDirOf(ctx), env: ctx.env }).state().running.map(internalUrlOf) : [];
  const url = (typeof ctx.values.url === 'string' ? ctx.values.url : undefined) ?? publicUrl;
  if (!url) throw new OpsError(`no public URL for ${env}: neither OPS_PUBLIC_URL nor switchboard:edge.host in infra/Pulumi.${env}.yaml`, `export OPS_PUBLIC_URL=https://<host>, or pass --url`, 2);
  const tokens = tokenSettingsFrom(loadConfig({ MONGODB_URI: 'mongodb://unused', ...settings }));
  if (!tokens.hs256Keys.length) throw new OpsError(`${env} accepts no HS256 key, so ops cannot sign verification tokens`, 'add a dedicated key to JWT_HS256_KEYS (ops-verify:<secret>) in the environment and export it here', 2);
  return { url, metricsUrls, token: (user) => signLocalToken(tokens, user, 300) };
}

export async function verifyEnvironment(ctx: Pick<CommandContext, 'values' | 'env'>, out: Output): Promise<VerifyReport> {
  return runVerify({ ...verifyInputs(ctx), print: (line) => out.info(`  ${line}`) });
}

export const toRecord = (report: VerifyReport) => ({ ok: report.ok, checks: report.checks });

export const handlers: Record<string, CommandHandler> = {
  async verify(ctx) {
    const report = await verifyEnvironment(ctx, ctx.out);
    const failed = report.checks.filter((c) => !c.ok).map((c) => c.name);
    ctx.out.result(report, report.ok ? `verify ${report.url}: passed (${report.checks.length} checks)` : `verify ${report.url}: FAILED (${failed.join('; ')})`);
    if (!report.ok) ctx.out.info(`next: ops status   # then the runbook of what failed; a bad release: ops rollback`);
    return report.ok ? 0 : 1;
  },
};

const skipReason = (ctx: Pick<CommandContext, 'values' | 'env'>): string | undefined =>
  (typeof ctx.values['skip-verify'] === 'string' ? `${ctx.values['skip-verify']} (--skip-verify)` : undefined) ?? (ctx.env.OPS_SKIP_VERIFY ? `${ctx.env.OPS_SKIP_VERIFY} (OPS_SKIP_VERIFY)` : undefined);

/** The --dry-run line for the verify step. */
export function verifyPlan(ctx: Pick<CommandContext, 'values' | 'env'>): string {
  const reason = skipReason(ctx);
  return reason ? `skip ops verify: ${reason}` : 'ops verify: every documented route and the error contract, Socket.IO, gap repair, /health, /ready, /metrics; exit 1 (next: ops rollback) if a check fails';
}

/** The release record's verify field. */
export type VerifyRecord = { ok: boolean; skipped?: string; checks: VerifyReport['checks'] };

/**
 * Run by `ops deploy` right after traffic switched: the result goes into the release record, and a
 * failure makes the deploy exit non-zero with `ops rollback` as the next step (the release is serving).
 * --skip-verify <reason> / OPS_SKIP_VERIFY=<reason> skip it, recorded.
 */
export async function postDeployVerify(ctx: Pick<CommandContext, 'values' | 'env'>, out: Output): Promise<VerifyRecord> {
  const reason = skipReason(ctx);
  if (reason) {
    out.warn(`post-deploy verification skipped: ${reason}`);
    return { ok: true, skipped: reason, checks: [] };
  }
  try {
    return toRecord(await out.step('verify', async () => {
      const report = await verifyEnvironment(ctx, out);
      // A deploy during maintenance: the API answers 503 by design, so there is nothing to verify yet (like the smoke test).
      if (!report.ok && report.checks[0]?.detail === MAINTENANCE_ON) throw Object.assign(new Error(MAINTENANCE_ON), { skipped: true, report });
      if (!report.ok) throw Object.assign(new Error(report.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`).join('; ')), { report });
      return report;
    }));
  } catch (error) {
    const report = (error as { report?: VerifyReport }).report;
    if ((error as { skipped?: boolean }).skipped) {
      out.warn(`post-deploy verification skipped: ${MAINTENANCE_ON}; run ops verify after: ops maintenance off`);
      return { ok: true, skipped: `${MAINTENANCE_ON} (the API answers 503)`, checks: report?.checks ?? [] };
    }
    return { ok: false, checks: report?.checks ?? [{ name: 'verify', ok: false, detail: (error as Error).message, ms: 0 }] };
  }
}

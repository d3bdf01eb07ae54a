import { createInterface } from 'node:readline/promises';
import { configSpec } from '../../core/src/config';
import { formatMs, OpsError } from '../cli/output';
import type { CommandContext } from '../cli/types';
import { positiveInt, whoOf } from '../state/context';
import type { OpsState } from '../state/ops-state';
import { finished, previousGood, type ReleaseConfig, type ReleaseOutcome, type ReleaseRecord } from '../state/releases';
import { ActivationError, type DeployRequest } from '../targets/target';
import type { PreflightRecord } from '../preflight/commands';
import { cancelReason, withCommandLock } from './command-lock';
import { targetFor } from './common';

const perInstance = new Set(['PORT', 'HOST', 'INSTANCE_ID', 'RELEASE_VERSION']);

export function parseSettings(values: string[] | undefined): Record<string, string> {
  const settings: Record<string, string> = {};
  for (const item of values ?? []) {
    const at = item.indexOf('=');
    const key = item.slice(0, at);
    if (at < 1 || !(key in configSpec) || perInstance.has(key)) {
      throw new OpsError(`--set ${item}: expected KEY=VALUE with KEY one of the core settings (not ${[...perInstance].join(', ')})`, 'npx tsx core/src/main.ts --help   # lists every setting', 2);
    }
    settings[key] = item.slice(at + 1);
  }
  return settings;
}

/** The release currently serving: the newest release that succeeded and was not rolled back. */
export const currentRelease = (records: ReleaseRecord[]): ReleaseRecord | undefined => [...records].reverse().find((r) => r.status === 'succeeded');

/**
 * Deploy and rollback share one flow: lock (withCommandLock: heartbeat, --lock-wait, released on every
 * exit path) → record (pending) → build/resolve (deploy only) → the target's health-gated activation →
 * record the outcome → audit → prune. The lock, the release history and the audit log come from the
 * environment's state backend (S3 for shared environments), never from this checkout alone.
 */
/** A release that changes only settings (ops config set|unset): applied over the current release's. */
export interface ConfigChange {
  change: ReleaseConfig;
  description: string;
}

/** The settings a release runs with: a deploy carries the current ones forward, a rollback puts back its target's, a config release changes them. */
export function releaseConfig(kind: 'deploy' | 'rollback' | 'config', current: ReleaseRecord | undefined, artifact: ReleaseRecord | undefined, change?: ConfigChange): ReleaseConfig | undefined {
  if (kind === 'rollback') return artifact?.config;
  if (kind === 'config') return { ...(current?.config ?? {}), ...change!.change };
  return current?.config;
}

export async function runRelease(ctx: CommandContext, kind: 'deploy' | 'rollback' | 'config', configChange?: ConfigChange): Promise<number> {
  const { values, out } = ctx;
  const { target, env, state } = targetFor(ctx);
  if (kind === 'config' && !target.config) throw new OpsError(`ops config applies to a stack; the ${target.kind} target takes settings per release`, `ops deploy --env ${env} --set KEY=VALUE`, 2);
  const who = whoOf(ctx.env);
  const strategy = ((values.strategy as string | undefined) ?? target.strategies[0]) as DeployRequest['strategy'];
  if (!target.strategies.includes(strategy)) {
    throw new OpsError(`--strategy ${strategy} is not supported by the ${target.kind} target (${target.kind === 'local' ? 'nginx switches every instance at once' : 'the Deployment rolls pods'})`, `ops ${kind} --env ${env} --strategy ${target.strategies[0]}`, 2);
  }
  const request: DeployRequest = {
    version: values.version as string | undefined,
    strategy,
    settings: parseSettings(values.set as string[] | undefined),
    instances: values.instances === undefined ? undefined : Math.max(1, positiveInt(values.instances, 'instances', 2)),
    allowDrift: values['allow-drift'] === true,
  };
  const plan = await planRelease(ctx, kind, state, env);
  const description = (values.message as string | undefined) ?? (kind === 'config' ? configChange!.description : kind === 'rollback' ? `rollback to ${plan.artifact!.id}` : `deploy ${request.version ?? 'working tree'}`);

  if (values['dry-run']) {
    const steps = kind === 'config'
      ? (await target.plan({ kind: 'rollback', request: { ...request, current: plan.current, config: releaseConfig(kind, plan.current, undefined, configChange) }, releaseId: plan.nextId, artifact: plan.current })).slice(2).map((line) => line.replace(/rollback/g, 'config'))
      : await target.plan({ kind, request: { ...request, current: plan.current, config: releaseConfig(kind, plan.current, plan.artifact) }, releaseId: plan.nextId, artifact: plan.artifact });
    if (kind === 'config') steps.unshift(`record ${plan.nextId}: the image serving now (${plan.current?.image ?? 'from the stack config'}) with ${description}`);
    const checks = kind === 'deploy'
      ? { before: [(require('../preflight/commands') as typeof import('../preflight/commands')).preflightPlan(ctx)], after: [(require('../verify/commands') as typeof import('../verify/commands')).verifyPlan(ctx)] }
      : { before: [], after: [] };
    const lines = [`take the deploy lock for ${env} ("${description}", owner ${who}; state ${state.description})`, ...checks.before, ...steps, ...checks.after, 'release the deploy lock'];
    out.result({ dryRun: true, env, kind, release: plan.nextId, current: plan.current?.id, artifact: plan.artifact?.id, plan: lines }, [`plan for ops ${kind} on ${env} (dry run: nothing changes)`, ...lines.map((s, i) => `  ${i + 1}. ${s}`)].join('\n'));
    return 0;
  }
  if (target.kind === 'kubernetes' && !values.yes) await confirm(`${kind} ${env} (${description})?`);

  let record: ReleaseRecord | undefined;
  const finish = async (outcome: ReleaseOutcome) => {
    if (!record) return;
    record = finished(record, { steps: out.steps, ...outcome });
    await state.saveRelease(record);
  };
  return withCommandLock(ctx, {
    env, state, action: kind, message: description, graceful: target.cancellable,
    onInterrupt: async (reason) => {
      target.interrupt?.();
      if (record && record.status !== 'pending') return; // already recorded (e.g. Ctrl-C while pruning)
      await finish({ status: 'interrupted', error: reason });
      await state.appendAudit({ who, env, action: kind, outcome: 'failed', release: record?.id, detail: reason });
    },
  }, async (signal) => {
    // Read again under the lock: another runner may have released since the plan above.
    const locked = await planRelease(ctx, kind, state, env);
    const { current, records } = locked;
    let artifact = locked.artifact;
    const started = performance.now();
    try {
      const config = releaseConfig(kind, current, artifact, configChange);
      record = await state.createRelease(env, { kind, version: artifact?.version ?? (kind === 'config' ? current?.version ?? 'current' : 'building'), artifact: artifact?.id, who, description, strategy, ...(config ? { config } : {}) });
      out.info(`${kind} ${record.id} to ${env}: ${description}${current ? ` (current: ${current.id})` : ''}`);
      await state.appendAudit({ who, env, action: kind, outcome: 'started', release: record.id, detail: description });
      const run: DeployRequest = { ...request, current, signal, config };
      if (kind === 'config') {
        // The same image, new settings: no build, no preflight of the code; the health gate and smoke test still run.
        record = { ...record, ...(await target.config!.serving(run)) };
        await state.saveRelease(record);
        artifact = record;
      }
      if (kind === 'deploy') {
        // Preflight first: nothing is built or started when an item fails (unless skipped, recorded).
        // Loaded on use: the probes pull in the MongoDB, Redis and S3 clients, which `ops --help` or a rollback never need.
        const { deployPreflight } = require('../preflight/commands') as typeof import('../preflight/commands');
        record = { ...record, preflight: await deployPreflight(ctx, out) };
        await state.saveRelease(record);
        record = { ...record, ...(await target.prepare(run, record.id, out)) };
        await state.saveRelease(record);
        artifact = record;
      }
      const { cutoverMs } = await target.activate(record, artifact!, run, out);
      if (kind === 'deploy') {
        const { postDeployVerify } = require('../verify/commands') as typeof import('../verify/commands');
        record = { ...record, verify: await postDeployVerify(ctx, out) };
      }
      await finish({ status: 'succeeded', cutoverMs });
      const done = record;
      if (kind === 'rollback' && current) {
        const replaced = await state.getRelease(env, current.id);
        if (replaced) await state.saveRelease({ ...replaced, status: 'rolled-back', rolledBackBy: done.id });
      }
      await state.appendAudit({ who, env, action: kind, outcome: 'succeeded', release: done.id, version: done.version, detail: description, durationMs: done.durationMs, cutoverMs });
      const pruned = target.prune?.(positiveInt(ctx.env.OPS_KEEP_RELEASES, 'OPS_KEEP_RELEASES', 5), new Set([done.artifact, ...(current ? [current.artifact] : [])])) ?? [];
      if (pruned.length) out.info(`pruned builds: ${pruned.join(', ')}`);
      const unverified = done.verify && !done.verify.ok;
      out.result({ ok: !unverified, release: done, pruned }, `\n${done.id} (${done.version}) is serving ${env}: ${kind} took ${formatMs(performance.now() - started)}${cutoverMs !== undefined ? `, cutover ${cutoverMs} ms` : ''}${pruned.length ? `; pruned ${pruned.join(', ')}` : ''}${unverified ? '\nbut the post-deploy verification FAILED (see ✗ above)' : ''}`);
      if (unverified) {
        await state.appendAudit({ who, env, action: 'verify', outcome: 'failed', release: done.id, detail: done.verify!.checks.filter((c) => !c.ok).map((c) => c.name).join('; ') });
        out.info(`next: ops rollback --env ${env}   # or fix forward; re-check with: ops verify --env ${env}`);
        return 1;
      }
      return 0;
    } catch (error) {
      const cancelled = cancelReason(signal);
      const activation = error instanceof ActivationError ? error : undefined;
      const serving = activation?.switched && !activation.rolledBack ? `${record?.id} may be partly serving` : `${current?.id ?? 'nothing'} keeps serving${activation?.rolledBack ? ' (traffic was switched back automatically)' : ''}`;
      const firstLine = (error as Error).message.split('\n')[0];
      const refused = (error as { preflight?: PreflightRecord & { skippedByOperator: Record<string, string> } }).preflight;
      if (record && refused) record = { ...record, preflight: { ok: false, skipped: refused.skippedByOperator, items: refused.items } };
      const message = `${kind} ${record?.id ?? `v${records.reduce((m, r) => Math.max(m, r.seq), 0) + 1}`} ${cancelled ? 'interrupted' : 'failed'}${activation ? ` at "${activation.step}"` : ''}: ${cancelled ? `${cancelled}; ` : ''}${(error as Error).message}\n${serving}.`;
      await finish(cancelled ? { status: 'interrupted', error: `${cancelled}: ${firstLine}` } : { status: 'failed', error: firstLine });
      await state.appendAudit({ who, env, action: kind, outcome: 'failed', release: record?.id, detail: cancelled ? `${cancelled}: ${firstLine}` : firstLine });
      const next = error instanceof OpsError && error.next ? error.next : `ops status --env ${env}   # what serves now; fix the cause, then: ops ${kind}${kind === 'deploy' ? '' : ' --to <release>'} --env ${env}`;
      throw new OpsError(message, next, cancelled ? 130 : error instanceof OpsError ? error.exitCode : 1);
    }
  });
}

/** What a deploy/rollback acts on, from the release history: the current release and, for a rollback, its target. */
async function planRelease(ctx: CommandContext, kind: 'deploy' | 'rollback' | 'config', state: OpsState, env: string): Promise<{ records: ReleaseRecord[]; current?: ReleaseRecord; artifact?: ReleaseRecord; nextId: string }> {
  const records = await state.listReleases(env);
  const current = currentRelease(records);
  const nextId = `v${records.reduce((m, r) => Math.max(m, r.seq), 0) + 1}`;
  if (kind !== 'rollback') return { records, current, nextId };
  const to = ctx.values.to as string | undefined;
  let artifact = to ? await state.getRelease(env, to) : previousGood(records, current);
  if (!artifact) {
    throw new OpsError(to ? `no release ${to} in ${env}` : `no earlier succeeded release to roll back to in ${env} (current: ${current?.id ?? 'none'})`, `ops releases --env ${env}`, 2);
  }
  if (artifact.kind === 'rollback') artifact = (await state.getRelease(env, artifact.artifact)) ?? artifact;
  if (artifact.status === 'pending') throw new OpsError(`${artifact.id} is still pending`, `ops releases --env ${env}`, 2);
  return { records, current, artifact, nextId };
}

async function confirm(question: string): Promise<void> {
  if (!process.stdin.isTTY) throw new OpsError('confirmation needed and stdin is not a terminal', 'add --yes to confirm, or --dry-run to see the plan', 2);
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  const answer = await rl.question(`${question} [y/N] `);
  rl.close();
  if (!/^y(es)?$/i.test(answer.trim())) throw new OpsError('not confirmed: nothing changed', undefined, 1);
}

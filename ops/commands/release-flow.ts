import { createInterface } from 'node:readline/promises';
import { configSpec } from '../../core/src/config';
import { formatMs, OpsError } from '../cli/output';
import type { CommandContext } from '../cli/types';
import { appendAudit } from '../state/audit-log';
import { parseDuration, positiveInt, whoOf } from '../state/context';
import { acquireLock, LockHeldError, removeIfSame } from '../state/lock';
import { createRelease, finishRelease, getRelease, listReleases, previousGood, saveRelease, type ReleaseRecord } from '../state/releases';
import { ActivationError, type DeployRequest } from '../targets/target';
import type { PreflightRecord } from '../preflight/commands';
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
 * Deploy and rollback share one flow: lock → record (pending) → build (deploy only) → the target's
 * health-gated activation → record the outcome → audit → prune → unlock. The lock is released on every
 * exit path, including Ctrl-C; a killed process leaves a lock that the next command takes over.
 */
export async function runRelease(ctx: CommandContext, kind: 'deploy' | 'rollback'): Promise<number> {
  const { values, out } = ctx;
  const { target, env, stateDir } = targetFor(ctx);
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
  };
  const records = listReleases(stateDir, env);
  const current = currentRelease(records);
  let artifact: ReleaseRecord | undefined;
  if (kind === 'rollback') {
    const to = values.to as string | undefined;
    artifact = to ? getRelease(stateDir, env, to) : previousGood(records, current);
    if (!artifact) {
      throw new OpsError(to ? `no release ${to} in ${env}` : `no earlier succeeded release to roll back to in ${env} (current: ${current?.id ?? 'none'})`, `ops releases --env ${env}`, 2);
    }
    if (artifact.kind === 'rollback') artifact = getRelease(stateDir, env, artifact.artifact) ?? artifact;
    if (artifact.status === 'pending') throw new OpsError(`${artifact.id} is still pending`, `ops releases --env ${env}`, 2);
  }
  const description = (values.message as string | undefined) ?? (kind === 'rollback' ? `rollback to ${artifact!.id}` : `deploy ${request.version ?? 'working tree'}`);
  const nextId = `v${records.reduce((m, r) => Math.max(m, r.seq), 0) + 1}`;

  if (values['dry-run']) {
    const steps = await target.plan({ kind, request, releaseId: nextId, artifact });
    const checks = kind === 'deploy'
      ? { before: [(require('../preflight/commands') as typeof import('../preflight/commands')).preflightPlan(ctx)], after: [(require('../verify/commands') as typeof import('../verify/commands')).verifyPlan(ctx)] }
      : { before: [], after: [] };
    const plan = [`take the deploy lock for ${env} ("${description}", owner ${who})`, ...checks.before, ...steps, ...checks.after, 'release the deploy lock'];
    out.result({ dryRun: true, env, kind, release: nextId, current: current?.id, artifact: artifact?.id, plan }, [`plan for ops ${kind} on ${env} (dry run: nothing changes)`, ...plan.map((s, i) => `  ${i + 1}. ${s}`)].join('\n'));
    return 0;
  }
  if (target.kind === 'kubernetes' && !values.yes) await confirm(`${kind} ${env} (${description})?`);

  const ttlMs = parseDuration(ctx.env.OPS_LOCK_TTL ?? '30m');
  let lock;
  try {
    lock = acquireLock(stateDir, env, { owner: who, message: description, ttlMs, kind: 'command', command: `ops ${kind}` });
  } catch (error) {
    if (!(error instanceof LockHeldError)) throw error;
    appendAudit(stateDir, { who, env, action: kind, outcome: 'refused', detail: error.message });
    throw new OpsError(`${kind} refused: ${error.message}`, `wait for it, or see \`ops lock status --env ${env}\`; if it is abandoned: ops lock release --env ${env}`, 3);
  }
  if (lock.takenOver) {
    out.warn(`took over the deploy lock of ${lock.takenOver.owner} ("${lock.takenOver.message}"): ${lock.takenOver.reason}`);
    appendAudit(stateDir, { who, env, action: 'lock.takeover', outcome: 'info', detail: `from ${lock.takenOver.owner} ("${lock.takenOver.message}"): ${lock.takenOver.reason}` });
  }
  let record: ReleaseRecord | undefined;
  const interrupted = (signal: NodeJS.Signals) => {
    try {
      target.interrupt?.();
    } catch (error) {
      out.warn(`cleanup after ${signal} failed: ${(error as Error).message}`);
    }
    if (record) finishRelease(stateDir, record, { status: 'failed', error: `interrupted by ${signal}`, steps: out.steps });
    appendAudit(stateDir, { who, env, action: kind, outcome: 'failed', release: record?.id, detail: `interrupted by ${signal}` });
    removeIfSame(stateDir, env, lock.lock.id);
    out.info(`\ninterrupted by ${signal}: lock released. Check what serves with: ops status --env ${env}`);
    process.exit(130);
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  const started = performance.now();
  try {
    record = createRelease(stateDir, env, { kind, version: artifact?.version ?? 'building', artifact: artifact?.id, who, description, strategy });
    out.info(`${kind} ${record.id} to ${env}: ${description}${current ? ` (current: ${current.id})` : ''}`);
    appendAudit(stateDir, { who, env, action: kind, outcome: 'started', release: record.id, detail: description });
    if (kind === 'deploy') {
      // Preflight first: nothing is built or started when an item fails (unless skipped, recorded).
      // Loaded on use: the probes pull in the MongoDB, Redis and S3 clients, which `ops --help` or a rollback never need.
      const { deployPreflight } = require('../preflight/commands') as typeof import('../preflight/commands');
      record = { ...record, preflight: await deployPreflight(ctx, out) };
      saveRelease(stateDir, record);
      record = { ...record, ...(await target.prepare(request, record.id, out)) };
      saveRelease(stateDir, record);
      artifact = record;
    }
    const { cutoverMs } = await target.activate(record, artifact!, request, out);
    if (kind === 'deploy') {
      const { postDeployVerify } = require('../verify/commands') as typeof import('../verify/commands');
      record = { ...record, verify: await postDeployVerify(ctx, out) };
    }
    record = finishRelease(stateDir, record, { status: 'succeeded', steps: out.steps, cutoverMs });
    if (kind === 'rollback' && current) {
      const replaced = getRelease(stateDir, env, current.id);
      if (replaced) saveRelease(stateDir, { ...replaced, status: 'rolled-back', rolledBackBy: record.id });
    }
    appendAudit(stateDir, { who, env, action: kind, outcome: 'succeeded', release: record.id, version: record.version, detail: description, durationMs: record.durationMs, cutoverMs });
    const pruned = target.prune?.(positiveInt(ctx.env.OPS_KEEP_RELEASES, 'OPS_KEEP_RELEASES', 5), new Set([record.artifact, ...(current ? [current.artifact] : [])])) ?? [];
    if (pruned.length) out.info(`pruned builds: ${pruned.join(', ')}`);
    const unverified = record.verify && !record.verify.ok;
    out.result({ ok: !unverified, release: record, pruned }, `\n${record.id} (${record.version}) is serving ${env}: ${kind} took ${formatMs(performance.now() - started)}${cutoverMs !== undefined ? `, cutover ${cutoverMs} ms` : ''}${pruned.length ? `; pruned ${pruned.join(', ')}` : ''}${unverified ? '\nbut the post-deploy verification FAILED (see ✗ above)' : ''}`);
    if (unverified) {
      appendAudit(stateDir, { who, env, action: 'verify', outcome: 'failed', release: record.id, detail: record.verify!.checks.filter((c) => !c.ok).map((c) => c.name).join('; ') });
      out.info(`next: ops rollback --env ${env}   # or fix forward; re-check with: ops verify --env ${env}`);
      return 1;
    }
    return 0;
  } catch (error) {
    const activation = error instanceof ActivationError ? error : undefined;
    const serving = activation?.switched && !activation.rolledBack ? `${record?.id} may be partly serving` : `${current?.id ?? 'nothing'} keeps serving${activation?.rolledBack ? ' (traffic was switched back automatically)' : ''}`;
    const message = `${kind} ${record?.id ?? nextId} failed${activation ? ` at "${activation.step}"` : ''}: ${(error as Error).message}\n${serving}.`;
    const refused = (error as { preflight?: PreflightRecord & { skippedByOperator: Record<string, string> } }).preflight;
    if (record && refused) record = { ...record, preflight: { ok: false, skipped: refused.skippedByOperator, items: refused.items } };
    if (record) record = finishRelease(stateDir, record, { status: 'failed', error: (error as Error).message.split('\n')[0], steps: out.steps });
    appendAudit(stateDir, { who, env, action: kind, outcome: 'failed', release: record?.id, detail: (error as Error).message.split('\n')[0] });
    const next = error instanceof OpsError && error.next ? error.next : `ops status --env ${env}   # what serves now; fix the cause, then: ops ${kind}${kind === 'deploy' ? '' : ' --to <release>'} --env ${env}`;
    throw new OpsError(message, next, error instanceof OpsError ? error.exitCode : 1);
  } finally {
    process.removeListener('SIGINT', interrupted);
    process.removeListener('SIGTERM', interrupted);
    removeIfSame(stateDir, env, lock.lock.id);
  }
}

async function confirm(question: string): Promise<void> {
  if (!process.stdin.isTTY) throw new OpsError('confirmation needed and stdin is not a terminal', 'add --yes to confirm, or --dry-run to see the plan', 2);
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  const answer = await rl.question(`${question} [y/N] `);
  rl.close();
  if (!/^y(es)?$/i.test(answer.trim())) throw new OpsError('not confirmed: nothing changed', undefined, 1);
}

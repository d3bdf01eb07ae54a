import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../services/paths';
import { OpsError } from '../cli/output';
import type { CommandContext } from '../cli/types';
import { requireKnownEnv } from './stacks';

/** Where ops keeps its state: --state-dir, $OPS_STATE_DIR, or var/ops in the repository. */
export function stateDirOf(ctx: Pick<CommandContext, 'values' | 'env'>): string {
  const given = typeof ctx.values['state-dir'] === 'string' ? ctx.values['state-dir'] : ctx.env.OPS_STATE_DIR;
  return path.resolve(given ?? path.join(repoRoot, 'var', 'ops'));
}

/**
 * Target environment: --env, $OPS_ENV, or `local`. Stack names are letters, digits, dots, dashes,
 * underscores, and must name a committed stack (infra/Pulumi.<stack>.yaml): unknown names are refused
 * with the known ones and a "did you mean" (exit 2).
 */
export function envOf(ctx: Pick<CommandContext, 'values' | 'env'>): string {
  const env = (typeof ctx.values.env === 'string' ? ctx.values.env : ctx.env.OPS_ENV) ?? 'local';
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(env)) throw new OpsError(`invalid environment name "${env}"`, 'use --env local or --env <pulumi stack name>', 2);
  requireKnownEnv(env);
  return env;
}

/** Who runs the command, for records and locks: $OPS_USER, or user@host. */
export function whoOf(env: NodeJS.ProcessEnv): string {
  return env.OPS_USER ?? `${os.userInfo().username}@${os.hostname()}`;
}

/** Parses 90s, 30m, 2h, 1d or plain milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!match) throw new OpsError(`invalid duration "${text}"`, 'use e.g. 90s, 30m, 2h', 2);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] ?? 'ms']!;
  return Math.round(Number(match[1]) * unit);
}

export function positiveInt(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new OpsError(`--${name} must be a non-negative integer, got "${String(value)}"`, undefined, 2);
  return n;
}

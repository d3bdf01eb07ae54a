import { configSpec } from '../../core/src/config';
import { OpsError } from '../cli/output';
import type { CommandContext, CommandHandler } from '../cli/types';
import type { ConfigEntry, ReleaseConfig } from '../state/releases';
import { describeEntry } from '../targets/kubernetes/kubernetes-target';
import { stackSettingOf } from '../targets/kubernetes/stack-config';
import { targetFor } from './common';
import { currentRelease, runRelease } from './release-flow';

/**
 * `ops config list|get|set|unset --env <stack>`: the core's settings on a stack, as part of a release.
 * set/unset is a release of its own (lock, record, preview, up, health gate, smoke test) that runs the
 * image serving now with the changed settings; `ops rollback` puts back the previous release's image and
 * settings. Secrets (`--secret`, and JWT_HS256_KEYS, SENTRY_DSN, NOTIFICATION_WEBHOOK_SECRET always) are
 * encrypted by the stack's secrets provider before anything is recorded, and never printed.
 */

const settingName = (name: string): string => {
  if (!(name in configSpec)) throw new OpsError(`${name} is not a core setting`, 'npx tsx core/src/main.ts --help   # lists every setting', 2);
  try {
    stackSettingOf(name);
  } catch (error) {
    throw new OpsError((error as Error).message, undefined, 2);
  }
  return name;
};

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) throw new OpsError('a secret is read from stdin, not from the command line', 'printf %s "$VALUE" | ops config set KEY --secret --env <stack>', 2);
  let text = '';
  for await (const chunk of process.stdin) text += chunk;
  return text.replace(/\r?\n$/, '');
}

async function current(ctx: CommandContext) {
  const { target, env, state } = targetFor(ctx);
  if (!target.config) throw new OpsError(`ops config applies to a stack; the ${target.kind} target takes settings per release`, `ops deploy --env ${env} --set KEY=VALUE`, 2);
  return { target, env, config: target.config, release: currentRelease(await state.listReleases(env)) };
}

async function show(ctx: CommandContext, names: string[] | undefined): Promise<number> {
  const { env, config, release } = await current(ctx);
  const recorded = release?.config ?? {};
  const rows = [];
  for (const name of names ?? Object.keys(recorded).sort()) {
    const entry = recorded[name];
    if (entry) {
      rows.push({ name, key: stackSettingOf(name).key, source: `release ${release!.id}`, ...('unset' in entry ? { unset: true } : 'secure' in entry ? { secret: true } : { value: entry.value }) });
    } else {
      const committed = await config.committed(name);
      rows.push({ name, key: committed.key, source: `Pulumi.${env}.yaml`, ...(committed.secret ? { secret: true } : committed.value === undefined ? { unset: true } : { value: committed.value }) });
    }
  }
  const text = rows.length
    ? rows.map((r) => `${r.name.padEnd(30)} ${'secret' in r ? '[secret]' : 'unset' in r ? '(unset: the core default)' : JSON.stringify(r.value)}   (${r.key}; ${r.source})`).join('\n')
    : `no settings changed through ops config on ${env}${release ? ` (current release ${release.id})` : ''}: the stack runs its committed Pulumi.${env}.yaml\nnext: ops config set KEY=VALUE --env ${env}`;
  ctx.out.result({ env, release: release?.id, settings: rows }, text);
  return 0;
}

async function change(ctx: CommandContext, unset: boolean): Promise<number> {
  if (!ctx.positionals.length) throw new OpsError(`ops config ${unset ? 'unset KEY' : 'set KEY=VALUE'}: name at least one setting`, `ops config ${unset ? 'unset RATE_LIMIT_API_PER_MIN' : 'set RATE_LIMIT_API_PER_MIN=200'} --env <stack>`, 2);
  const { config } = await current(ctx);
  const entries: ReleaseConfig = {};
  for (const item of ctx.positionals) {
    const at = item.indexOf('=');
    const name = settingName(unset || at < 0 ? item : item.slice(0, at));
    if (unset) { entries[name] = { unset: true }; continue; }
    const secret = ctx.values.secret === true || Boolean(stackSettingOf(name).secret);
    if (at < 0 && !secret) throw new OpsError(`${item}: expected KEY=VALUE`, `ops config set ${name}=<value> --env <stack>`, 2);
    const value = at < 0 ? await readStdin() : item.slice(at + 1);
    const spec = configSpec[name as keyof typeof configSpec];
    if (!spec.schema.safeParse(value).success) throw new OpsError(`${name}: "${secret ? '[secret]' : value}" is not valid (${spec.doc})`, undefined, 2);
    const entry: ConfigEntry = secret ? { secure: await config.encrypt(name, value) } : { value };
    entries[name] = entry;
  }
  const description = `config ${unset ? 'unset' : 'set'} ${Object.entries(entries).map(([name, entry]) => (unset ? name : `${name}=${describeEntry(entry)}`)).join(' ')}`;
  return runRelease(ctx, 'config', { change: entries, description });
}

export const handlers: Record<string, CommandHandler> = {
  'config list': (ctx) => show(ctx, undefined),
  'config get': (ctx) => show(ctx, ctx.positionals.length ? ctx.positionals.map(settingName) : undefined),
  'config set': (ctx) => change(ctx, false),
  'config unset': (ctx) => change(ctx, true),
};

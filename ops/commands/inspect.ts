import { createHash } from 'node:crypto';
import { describeUnknown, EXIT_UNKNOWN, formatMs, OpsError, type Unknown } from '../cli/output';
import type { CommandContext, CommandHandler } from '../cli/types';
import { freePort } from '../services/ports';
import { parseDuration } from '../state/context';
import { staleReason } from '../state/lock';
import type { ReleaseRecord } from '../state/releases';
import { describeEntry } from '../targets/kubernetes/kubernetes-target';
import type { InstanceDetail, Passthrough } from '../targets/access';
import { kubernetesExec, kubernetesInstances, kubernetesLogs, openKubernetesTunnel, type TunnelService } from '../targets/kubernetes/access';
import { changedSettings } from '../targets/kubernetes/stack-config';
import { localExec, localInstances, localLogs, selectInstances } from '../targets/local/access';
import { createLocalTarget } from '../targets/local/local-target';
import { stateFor, targetFor } from './common';
import { currentRelease } from './release-flow';

/**
 * The read-only verbs a Kamal/Heroku user reaches for (issue 26): one release's record, what is running,
 * the logs, a command in an instance's environment, and a tunnel to a stack's data stores.
 */

/**
 * Ctrl-C/SIGTERM end a follow, an exec or a tunnel cleanly (the tunnel deletes its pod). `terminalOwnsCtrlC`:
 * `ops exec` in a terminal, where Ctrl-C reaches the command itself (same foreground process group): a REPL
 * or a shell decides what it means, ops does not kill it; only SIGTERM is passed on.
 */
function interruptible(options: { terminalOwnsCtrlC?: boolean } = {}): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const stop = () => controller.abort();
  const ignore = () => undefined;
  const onSigint = options.terminalOwnsCtrlC ? ignore : stop;
  process.on('SIGINT', onSigint);
  process.once('SIGTERM', stop);
  return { signal: controller.signal, dispose: () => { process.off('SIGINT', onSigint); process.off('SIGTERM', stop); } };
}

const passthrough = (ctx: CommandContext, signal: AbortSignal): Passthrough => ({ write: (c) => ctx.out.write(c), writeErr: (c) => ctx.out.info(c.replace(/\n$/, '')), signal });

/** A stable digest of a release's settings (what changes when any setting changes); `-` when it has none. */
export function configDigest(release: Pick<ReleaseRecord, 'config' | 'settings'>): string {
  const entries = { ...(release.settings ? { settings: release.settings } : {}), ...(release.config ? { config: release.config } : {}) };
  const sorted = (value: Record<string, unknown>) => Object.fromEntries(Object.keys(value).sort().map((k) => [k, value[k]]));
  if (!Object.keys(entries).length) return '-';
  const canonical = JSON.stringify({ settings: sorted(release.settings ?? {}), config: sorted(release.config ?? {}) });
  return `sha256:${createHash('sha256').update(canonical).digest('hex').slice(0, 16)}`;
}

/** The ids nearest to a wrong one: by number (v7 → v6, v8), else the newest. */
function nearestIds(id: string, all: ReleaseRecord[]): string[] {
  const seq = /^v(\d+)$/.exec(id)?.[1];
  const ranked = seq === undefined ? [...all].reverse() : [...all].sort((a, b) => Math.abs(a.seq - Number(seq)) - Math.abs(b.seq - Number(seq)) || b.seq - a.seq);
  return ranked.slice(0, 3).map((r) => r.id);
}

function renderRelease(r: ReleaseRecord, previous: ReleaseRecord | undefined, serving: boolean): string {
  const changed = r.kind === 'config' || r.kind === 'rollback' ? changedSettings(previous?.config, r.config) : [];
  const lines = [
    `${r.id} in ${r.env}: ${r.kind}${r.kind === 'rollback' ? ` to ${r.artifact}` : ''}, ${r.status}${serving ? ' (serving)' : ''}${r.rolledBackBy ? `, rolled back by ${r.rolledBackBy}` : ''}`,
    `  version      ${r.version}`,
    ...(r.image ? [`  image        ${r.image}`] : []),
    ...(r.build ? [`  build        ${r.build.ref} (git ${r.build.gitSha}${r.build.dirty ? ', uncommitted changes' : ''}), built ${r.build.builtAt}${r.build.pruned ? `, pruned ${r.build.pruned}` : ''}`] : []),
    `  config       ${configDigest(r)}${r.settings && Object.keys(r.settings).length ? `; --set ${Object.keys(r.settings).sort().join(', ')}` : ''}${r.config && Object.keys(r.config).length ? `; ops config: ${Object.entries(r.config).map(([k, e]) => `${k}=${describeEntry(e)}`).join(', ')}` : ''}`,
    ...(changed.length ? [`  changed      ${changed.map((k) => `${k} ${describeEntry(previous?.config?.[k])} → ${describeEntry(r.config?.[k])}`).join(', ')} (vs ${previous?.id ?? 'the committed stack file'})`] : []),
    `  who          ${r.who}`,
    `  when         ${r.startedAt}${r.finishedAt ? ` → ${r.finishedAt}` : ' (not finished)'}`,
    `  duration     ${r.durationMs === undefined ? '-' : formatMs(r.durationMs)}${r.cutoverMs === undefined ? '' : ` (cutover ${formatMs(r.cutoverMs)})`}`,
    `  description  ${r.description || '-'}`,
    ...(r.strategy ? [`  strategy     ${r.strategy}`] : []),
    ...(r.error ? [`  error        ${r.error.split('\n')[0]}`] : []),
    `  preflight    ${r.preflight ? `${r.preflight.ok ? 'passed' : 'FAILED'} (${r.preflight.items.length} items${Object.keys(r.preflight.skipped).length ? `; skipped ${Object.entries(r.preflight.skipped).map(([k, why]) => `${k}: ${why}`).join(', ')}` : ''})` : '-'}`,
    `  verify       ${r.verify ? (r.verify.skipped ? `skipped: ${r.verify.skipped}` : `${r.verify.ok ? 'passed' : 'FAILED'} (${r.verify.checks.filter((c) => c.ok).length}/${r.verify.checks.length} checks${r.verify.ok ? '' : `; failed: ${r.verify.checks.filter((c) => !c.ok).map((c) => c.name).join(', ')}`})`) : '-'}`,
    ...(r.steps?.length ? ['  steps:', ...r.steps.map((s) => `    ${s.ok ? '✓' : '✗'} ${s.name} (${formatMs(s.ms)})${s.error ? ` — ${s.error.split('\n')[0]}` : ''}`)] : []),
  ];
  return lines.join('\n');
}

const age = (since: string | undefined, now: number): string | undefined => {
  if (!since || !Number.isFinite(Date.parse(since))) return undefined;
  const s = Math.max(0, Math.round((now - Date.parse(since)) / 1000));
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : s < 172_800 ? `${Math.round(s / 3600)}h` : `${Math.round(s / 86_400)}d`;
};

const unknownLine = (u: Unknown) => `unknown: ${u.what}: ${u.reason} — next: ${u.next}`;

function renderInstances(instances: InstanceDetail[], now: number): string[] {
  const rows = instances.map((i) => [i.name, i.version ?? 'unknown', i.ready ? 'yes' : 'NO', i.restarts === undefined ? 'unknown' : String(i.restarts), age(i.startedAt, now) ?? 'unknown', i.node ?? 'unknown']);
  const header = ['NAME', 'VERSION', 'READY', 'RESTARTS', 'AGE', 'NODE'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows].map((r) => `    ${r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()}`);
}

export const handlers: Record<string, CommandHandler> = {
  async 'releases show'(ctx) {
    const { env, state } = stateFor(ctx);
    const id = ctx.values.id as string | undefined;
    if (!id) throw new OpsError('which release? ops releases show <id>', `ops releases --env ${env} lists them`, 2);
    const all = await state.listReleases(env);
    const release = /^v\d+$/.test(id) ? all.find((r) => r.id === id) : undefined;
    if (!release) {
      const near = nearestIds(id, all);
      throw new OpsError(
        all.length ? `no release "${id}" in ${env}; nearest: ${near.join(', ')} (${all.length} release(s), ${all[0]!.id}..${all.at(-1)!.id})` : `no release "${id}" in ${env}: no releases there yet (state: ${state.description})`,
        all.length ? `ops releases show ${near[0]} --env ${env}, or ops releases --env ${env}` : `ops releases --env ${env}`,
        2,
      );
    }
    const previous = [...all].reverse().find((r) => r.seq < release.seq && r.status === 'succeeded');
    const serving = currentRelease(all)?.id === release.id;
    const changed = changedSettings(previous?.config, release.config);
    ctx.out.result({ env, state: state.description, serving, configDigest: configDigest(release), configChanged: release.kind === 'deploy' ? [] : changed, release }, renderRelease(release, previous, serving));
  },

  async details(ctx) {
    const { target, env, state } = targetFor(ctx);
    const now = Date.now();
    const unknowns: Unknown[] = [];
    const all = await state.listReleases(env).catch((error: Error) => { unknowns.push({ what: 'release', reason: `the release history cannot be read: ${error.message.split('\n')[0]}`, next: `ops releases --env ${env}` }); return []; });
    const current = currentRelease(all);
    const found = await ctx.out.step(env === 'local' ? 'read the local instances' : `list the core's pods in ${env} (kubectl, pinned context)`, async () => {
      if (env === 'local') return { instances: await localInstances(createLocalTarget({ stateDir: stateFor(ctx).stateDir, env: ctx.env }).state().running), unknowns: [] as Unknown[] };
      return kubernetesInstances(env, ctx.env);
    });
    // An instance's own unknowns are shown on its line; the list's (pods cannot be listed) at the top.
    unknowns.push(...found.unknowns);
    const maintenance = await target.maintenance();
    if (maintenance.unknown) unknowns.push(maintenance.unknown);
    let lock: Awaited<ReturnType<typeof state.readLock>>;
    try {
      lock = await state.readLock(env);
    } catch (error) {
      unknowns.push({ what: 'lock', reason: `the lock cannot be read: ${(error as Error).message.split('\n')[0]}`, next: `ops lock status --env ${env}` });
    }
    const lockLive = lock && !staleReason(lock, now) ? lock : undefined;
    const versions = new Set(found.instances.map((i) => i.version).filter(Boolean));
    const mismatch = current && found.instances.length && ![...versions].every((v) => v === current.version || v === `${current.artifact}-${current.version}` || v?.startsWith(`${current.artifact}-`)) ? `instances report ${[...versions].join(', ')}; ${current.id} is ${current.version}` : undefined;
    const lines = [
      `${env} (${target.kind})`,
      `  release      ${current ? `${current.id} (${current.kind}, ${current.version}${current.kind === 'rollback' ? ` = ${current.artifact}` : ''}) since ${current.finishedAt ?? current.startedAt} by ${current.who}` : all.length ? 'none succeeded yet' : 'none recorded'}${mismatch ? ` — ${mismatch}` : ''}`,
      `  maintenance  ${maintenance.unknown ? 'unknown (below)' : maintenance.on ? `ON since ${maintenance.since ?? '?'}: "${maintenance.message}"` : 'off'}`,
      `  lock         ${lockLive ? `held by ${lockLive.owner} (${lockLive.kind}: "${lockLive.message}", ${lockLive.command}) until ${lockLive.expiresAt}` : lock ? `none (stale lock of ${lock.owner}: the next command takes it over)` : unknowns.some((u) => u.what === 'lock') ? 'unknown (below)' : 'none'}`,
      '  instances:',
      ...(found.instances.length ? renderInstances(found.instances, now) : [found.unknowns.length ? '    unknown (below)' : '    none running']),
      ...unknowns.map((u) => `  ${unknownLine(u)}`),
    ];
    ctx.out.result({ env, target: target.kind, release: current ?? null, instances: found.instances.map((i) => ({ ...i, age: age(i.startedAt, now) })), maintenance, lock: lockLive ?? null, unknowns, known: unknowns.length === 0 }, lines.join('\n'));
    if (unknowns.length && !ctx.out.json) ctx.out.info(`next: ${unknowns[0]!.next}`);
    return unknowns.length ? EXIT_UNKNOWN : 0;
  },

  async logs(ctx) {
    const { env, stateDir } = stateFor(ctx);
    const since = ctx.values.since as string | undefined;
    const sinceMs = since === undefined ? undefined : parseDuration(since);
    if (sinceMs !== undefined && sinceMs <= 0) throw new OpsError(`--since ${since} must be > 0, e.g. 10m`, undefined, 2);
    const follow = ctx.values.follow === true;
    const instance = ctx.values.instance as string | undefined;
    const { signal, dispose } = interruptible();
    try {
      if (env === 'local') {
        const local = createLocalTarget({ stateDir, env: ctx.env });
        const running = local.state().running;
        if (!running.length) throw new OpsError('no local instances recorded (nothing deployed, or ops stop ran)', 'ops deploy --env local', 1);
        const chosen = selectInstances(running, instance);
        ctx.out.info(`${chosen.map((i) => i.log).join(', ')}${follow ? ' (following; Ctrl-C stops)' : ''}`);
        const refresh = instance ? undefined : () => local.state().running;
        return await localLogs(chosen, { sinceMs: sinceMs === undefined ? undefined : Date.now() - sinceMs, follow, refresh }, passthrough(ctx, signal));
      }
      if (follow) ctx.out.info('following the core\'s pods (Ctrl-C stops)');
      // In seconds: kubectl takes Go durations, which have no `d` (ops accepts 1d).
      return await kubernetesLogs(env, ctx.env, { instance, since: sinceMs === undefined ? undefined : `${Math.max(1, Math.round(sinceMs / 1000))}s`, follow }, passthrough(ctx, signal));
    } finally {
      dispose();
    }
  },

  async exec(ctx) {
    const { env, stateDir } = stateFor(ctx);
    const dash = ctx.args.indexOf('--');
    const command = dash === -1 ? [] : ctx.args.slice(dash + 1);
    if (!command.length) throw new OpsError('no command: put it after --', `ops exec --env ${env} -- printenv MONGODB_URI`, 2);
    if (ctx.positionals.length !== command.length) throw new OpsError(`unexpected word(s) before --: ${ctx.positionals.slice(0, ctx.positionals.length - command.length).join(' ')}`, `ops exec --env ${env} [--instance <name>] -- <command...>`, 2);
    const instance = ctx.values.instance as string | undefined;
    const tty = Boolean(process.stdin.isTTY && process.stdout.isTTY) && ctx.values['no-tty'] !== true;
    const { signal, dispose } = interruptible({ terminalOwnsCtrlC: tty });
    try {
      const code = env === 'local'
        ? await localExec(createLocalTarget({ stateDir, env: ctx.env }).state().running, { instance, command, tty }, passthrough(ctx, signal))
        : await kubernetesExec(env, ctx.env, { instance, command, tty }, passthrough(ctx, signal));
      if (code !== 0) ctx.out.info(`(${command[0]} exited with code ${code})`);
      return code;
    } finally {
      dispose();
    }
  },

  async tunnel(ctx) {
    const { env, stateDir } = stateFor(ctx);
    const service = ctx.values.service as string | undefined;
    if (service !== 'mongodb' && service !== 'redis') throw new OpsError(`ops tunnel needs mongodb or redis${service ? `, not "${service}"` : ''}`, `ops tunnel mongodb --env ${env}`, 2);
    const variable = service === 'mongodb' ? 'MONGODB_URI' : 'REDIS_URL';
    if (env === 'local') {
      // The local services listen on loopback already: nothing to forward, only their URIs to print.
      const uri = createLocalTarget({ stateDir, env: ctx.env }).state().settings[variable];
      if (!uri) {
        const unknown = { what: variable, reason: `the local target has no ${variable} (not in this shell, not saved by an earlier ops deploy)`, next: 'npm run services -- up, then paste the export lines it prints' };
        ctx.out.result({ env, service, uri: null, unknown }, describeUnknown(unknown));
        return EXIT_UNKNOWN;
      }
      ctx.out.result({ env, service, uri, export: `export ${variable}='${uri}'` }, `${uri}\nexport ${variable}='${uri}'\n(local target: the services listen on this machine; no tunnel needed)`);
      return 0;
    }
    const port = ctx.values.port === undefined ? await freePort() : Number(ctx.values.port);
    if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new OpsError(`--port ${String(ctx.values.port)} is not a TCP port`, undefined, 2);
    const { signal, dispose } = interruptible();
    try {
      const tunnel = await openKubernetesTunnel(env, ctx.env, { service: service as TunnelService, localPort: port, remote: ctx.values.remote as string | undefined, signal }, ctx.out);
      ctx.out.result({ env, service, pod: tunnel.pod, localPort: tunnel.localPort, uri: tunnel.uri, export: `export ${variable}='${tunnel.uri}'` }, `${tunnel.uri}\nexport ${variable}='${tunnel.uri}'`);
      ctx.out.info(`tunnel open through pod ${tunnel.pod}: keep this running; Ctrl-C closes it and deletes the pod`);
      return await tunnel.done;
    } finally {
      dispose();
    }
  },
};

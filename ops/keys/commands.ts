import path from 'node:path';
import { configSpec } from '../../core/src/config';
import { OpsError } from '../cli/output';
import type { CommandContext, CommandHandler } from '../cli/types';
import { currentRelease, runRelease } from '../commands/release-flow';
import { appendAudit } from '../state/audit-log';
import { envOf, parseDuration, stateDirOf, whoOf } from '../state/context';
import { readJson, writeJsonAtomic } from '../state/files';
import { listReleases } from '../state/releases';
import type { LocalState } from '../targets/local/local-target';
import { readRotation, RotationError, rotationStep, saveRotation } from './rotation';

/** Test seam: the clock the retire guard reads. */
let clock = () => new Date();
export function injectRotationClock(now: () => Date): void {
  clock = now;
}

const kubernetesPath = (env: string) =>
  `on a stack the keys are the Pulumi secret switchboard:jwtHs256Keys; per step: pulumi config set --secret switchboard:jwtHs256Keys '<keys>' --stack ${env}, then ops deploy --env ${env} --version <the current image> (the Deployment rolls pods one by one; see runbooks/maintenance-schedule.md)`;

/** The local target's saved settings file: rotation changes the environment's secret there. */
const targetFile = (stateDir: string) => path.join(stateDir, 'local', 'target.json');

function localKeys(ctx: CommandContext, stateDir: string): { state: LocalState | undefined; keys: string[] } {
  if (ctx.env.JWT_HS256_KEYS !== undefined) {
    throw new OpsError('JWT_HS256_KEYS is set in this shell and would override the rotated keys', 'unset JWT_HS256_KEYS, then run the step again (ops keeps the keys in the local target settings)', 2);
  }
  const state = readJson<LocalState>(targetFile(stateDir));
  const raw = state?.settings.JWT_HS256_KEYS ?? configSpec.JWT_HS256_KEYS.default;
  return { state, keys: raw.split(',').map((s) => s.trim()).filter(Boolean) };
}

const kids = (keys: string[]) => keys.map((k) => k.slice(0, k.indexOf(':'))).join(', ');

function step(which: 'add' | 'switch' | 'retire'): CommandHandler {
  return async (ctx) => {
    const env = envOf(ctx);
    const stateDir = stateDirOf(ctx);
    if (env !== 'local') throw new OpsError(`ops jwt ${which} changes the local target's settings only`, kubernetesPath(env), 2);
    const { state, keys } = localKeys(ctx, stateDir);
    const maxTokenTtlS = Math.round(parseDuration(typeof ctx.values['max-token-ttl'] === 'string' ? ctx.values['max-token-ttl'] : '12h') / 1000);
    let next;
    try {
      next = rotationStep(which, keys, readRotation(stateDir, env), { now: clock(), maxTokenTtlS, force: ctx.values.force === true });
    } catch (error) {
      if (error instanceof RotationError) throw new OpsError(`ops jwt ${which}: ${error.message}`, error.next, 2);
      throw error;
    }
    const value = next.keys.join(',');
    writeJsonAtomic(targetFile(stateDir), { port: 8080, instances: 2, running: [], ...state, settings: { ...state?.settings, JWT_HS256_KEYS: value } });
    saveRotation(stateDir, env, next.state);
    appendAudit(stateDir, { who: whoOf(ctx.env), env, action: `jwt.${which}`, outcome: 'succeeded', detail: `keys now ${kids(next.keys)} (issuing ${kids(next.keys.slice(0, 1))})` });
    ctx.out.info(`JWT_HS256_KEYS for ${env}: ${kids(next.keys)} — issuing with ${kids(next.keys.slice(0, 1))}`);
    const current = currentRelease(listReleases(stateDir, env));
    if (!current || !state?.running.length) {
      ctx.out.result({ ok: true, rotation: next.state, rolled: false }, `saved; no core is running, the next ops deploy uses the new keys`);
      return 0;
    }
    // Same build, new settings, one instance at a time: sockets reconnect to a new instance with the token they hold.
    const code = await runRelease({ ...ctx, values: { ...ctx.values, to: current.id, strategy: 'rolling', message: `jwt ${which}: ${kids(next.keys)}`, yes: true, json: false } }, 'rollback');
    ctx.out.result({ ok: code === 0, rotation: next.state, rolled: true }, nextHint(which, next.state.maxTokenTtlS));
    return code;
  };
}

function nextHint(which: 'add' | 'switch' | 'retire', ttlS: number): string {
  if (which === 'add') return 'both keys verify; next, once every instance runs them: ops jwt switch';
  if (which === 'switch') return `new tokens use the new key; after the longest token lifetime (${ttlS} s): ops jwt retire`;
  return 'rotation done: only the new key verifies';
}

export const handlers: Record<string, CommandHandler> = {
  'jwt add': step('add'),
  'jwt switch': step('switch'),
  'jwt retire': step('retire'),
  async 'jwt status'(ctx) {
    const env = envOf(ctx);
    const rotation = readRotation(stateDirOf(ctx), env);
    ctx.out.result({ env, rotation: rotation ?? null }, rotation ? `${env}: rotation to ${rotation.kid} is ${rotation.phase} (added ${rotation.addedAt}${rotation.switchedAt ? `, switched ${rotation.switchedAt}` : ''}${rotation.retiredAt ? `, retired ${rotation.retiredAt}` : ''})` : `${env}: no key rotation recorded`);
    return 0;
  },
};

import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { readJson, writeJsonAtomic } from '../state/files';

/**
 * HS256 key rotation in three rolls of the core, none of which drops a session:
 *   add    → JWT_HS256_KEYS = old…, new   (verifies both; still issues with the old key, the first one)
 *   switch → JWT_HS256_KEYS = new, old…   (issues with the new key; tokens of the old one still verify)
 *   retire → JWT_HS256_KEYS = new         (only once every token signed with the old key has expired)
 * The state of a rotation in progress is kept per environment (jwt-rotation.json) so each step knows
 * the previous one happened, and when.
 */

export type RotationPhase = 'serving-both' | 'issuing-new' | 'retired';

export interface RotationState {
  kid: string;
  phase: RotationPhase;
  /** The kids being retired. */
  oldKids: string[];
  addedAt: string;
  switchedAt?: string;
  retiredAt?: string;
  /** Longest lifetime of an issued token: retire waits this long after switch. */
  maxTokenTtlS: number;
}

export class RotationError extends Error {
  constructor(message: string, readonly next: string) {
    super(message);
  }
}

export const rotationFile = (stateDir: string, env: string) => path.join(stateDir, env, 'jwt-rotation.json');
export const readRotation = (stateDir: string, env: string) => readJson<RotationState>(rotationFile(stateDir, env));
export const saveRotation = (stateDir: string, env: string, state: RotationState) => writeJsonAtomic(rotationFile(stateDir, env), state);

const kidOf = (entry: string) => entry.slice(0, entry.indexOf(':'));

export function newKeyEntry(now: Date): string {
  const kid = `k${now.toISOString().slice(0, 10).replace(/-/g, '')}-${randomBytes(2).toString('hex')}`;
  return `${kid}:${randomBytes(32).toString('base64url')}`;
}

/** The next JWT_HS256_KEYS value and rotation state for one step; throws RotationError when the step is out of order or too early. */
export function rotationStep(
  step: 'add' | 'switch' | 'retire',
  keys: string[],
  state: RotationState | undefined,
  options: { now: Date; maxTokenTtlS: number; newEntry?: string; force?: boolean },
): { keys: string[]; state: RotationState } {
  const inProgress = state && state.phase !== 'retired' ? state : undefined;
  if (step === 'add') {
    if (inProgress) throw new RotationError(`a rotation to ${inProgress.kid} is in progress (${inProgress.phase})`, inProgress.phase === 'serving-both' ? 'ops jwt switch' : 'ops jwt retire');
    if (!keys.length) throw new RotationError('the environment has no HS256 key to rotate (JWKS only?)', 'rotate at the identity provider: the core refetches its JWKS on an unknown kid');
    const entry = options.newEntry ?? newKeyEntry(options.now);
    return { keys: [...keys, entry], state: { kid: kidOf(entry), phase: 'serving-both', oldKids: keys.map(kidOf), addedAt: options.now.toISOString(), maxTokenTtlS: options.maxTokenTtlS } };
  }
  if (!inProgress) throw new RotationError('no rotation in progress', 'ops jwt add');
  const fresh = keys.find((k) => kidOf(k) === inProgress.kid);
  if (!fresh) throw new RotationError(`the environment's JWT_HS256_KEYS no longer contains ${inProgress.kid}`, 'ops jwt status   # someone changed the keys by hand; start over with ops jwt add');
  const others = keys.filter((k) => k !== fresh);
  if (step === 'switch') {
    if (inProgress.phase !== 'serving-both') throw new RotationError(`${inProgress.kid} already issues tokens`, 'ops jwt retire');
    return { keys: [fresh, ...others], state: { ...inProgress, phase: 'issuing-new', switchedAt: options.now.toISOString() } };
  }
  if (inProgress.phase !== 'issuing-new') throw new RotationError(`${inProgress.kid} does not issue tokens yet: retiring now would log everyone out`, 'ops jwt switch');
  const safeAt = Date.parse(inProgress.switchedAt!) + inProgress.maxTokenTtlS * 1000;
  if (options.now.getTime() < safeAt && !options.force) {
    throw new RotationError(`tokens signed with ${inProgress.oldKids.join(', ')} may be valid until ${new Date(safeAt).toISOString()} (switched ${inProgress.switchedAt} + ${inProgress.maxTokenTtlS} s); retiring now would end those sessions`, `wait, then: ops jwt retire   (or --force if the old key leaked)`);
  }
  return { keys: [fresh], state: { ...inProgress, phase: 'retired', retiredAt: options.now.toISOString() } };
}

import { appendAudit, readAudit } from './audit-log';
import { acquireLock, forceRelease, readLock, removeIfSame, renewLock } from './lock';
import type { OpsState } from './ops-state';
import { createRelease, getRelease, listReleases, saveRelease } from './releases';

/** The directory backend: `<stateDir>/<env>/lock.json`, `<env>/releases/vN/release.json`, `audit.jsonl`. */
export function dirState(stateDir: string): OpsState {
  return {
    description: `dir:${stateDir}`,
    shared: false,
    acquireLock: async (env, request, now) => acquireLock(stateDir, env, request, now),
    renewLock: async (env, held, now) => renewLock(stateDir, env, held, now),
    releaseLock: async (env, held) => removeIfSame(stateDir, env, held.lock.id),
    readLock: async (env) => readLock(stateDir, env),
    forceReleaseLock: async (env) => forceRelease(stateDir, env),
    listReleases: async (env) => listReleases(stateDir, env),
    getRelease: async (env, id) => getRelease(stateDir, env, id),
    createRelease: async (env, fields) => createRelease(stateDir, env, fields),
    saveRelease: async (record) => saveRelease(stateDir, record),
    appendAudit: async (entry) => appendAudit(stateDir, entry),
    readAudit: async (filter = {}) => {
      const entries = readAudit(stateDir).filter((e) => !filter.env || e.env === filter.env);
      return filter.limit === undefined ? entries : entries.slice(-filter.limit);
    },
  };
}

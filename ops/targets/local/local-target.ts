import fs from 'node:fs';
import path from 'node:path';
import { configSpec, ConfigError, loadConfig } from '../../../core/src/config';
import { freePort } from '../../services/ports';
import { OpsError, type Output } from '../../cli/output';
import { parseDuration } from '../../state/context';
import { readJson, writeJsonAtomic } from '../../state/files';
import { releasesDir, type ReleaseRecord } from '../../state/releases';
import { readFlag, writeFlag } from '../maintenance-flag';
import { ActivationError, type DeployRequest, type MaintenanceStatus, type StatusReport, type Target } from '../target';
import { frontDoor } from './front-door';
import { instanceEnv, probeInstance, startInstance, stopInstances, waitForMaintenance, waitReady, type InstanceInfo } from './instances';
import type { MaintenanceSwitch } from './nginx-config';
import { isOurs, stopDaemon, type DaemonInfo } from './processes';
import { buildRelease, entryPoint, resolveSource } from './release-build';
import { smokeTest } from './smoke';

export type { InstanceInfo } from './instances';

export interface LocalState {
  /** Front door port (nginx on 127.0.0.1). */
  port: number;
  instances: number;
  /** Core settings every instance gets (MONGODB_URI, REDIS_URL, ...). */
  settings: Record<string, string>;
  nginx?: DaemonInfo & { dir: string };
  running: InstanceInfo[];
}

export interface LocalTargetOptions {
  stateDir: string;
  /** The ops process environment: core settings found here override the saved ones. */
  env: NodeJS.ProcessEnv;
}

/** Settings that ops sets per instance: never taken from the environment or --set. */
const perInstance = new Set(['PORT', 'HOST', 'METRICS_PORT', 'METRICS_HOST', 'INSTANCE_ID', 'RELEASE_VERSION', 'MAINTENANCE_MODE']);
const defaults: Record<string, string> = { HOST: '127.0.0.1', APP_ENV: 'development', MONGODB_DB: 'switchboard', LOG_LEVEL: 'info' };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The local target: core processes from immutable builds, behind a private nginx, all on 127.0.0.1. */
export function createLocalTarget(options: LocalTargetOptions): Target & { readonly dir: string; state(): LocalState; frontDoorUrl(): string } {
  const dir = path.join(options.stateDir, 'local');
  const stateFile = path.join(dir, 'target.json');
  const maintenanceFile = path.join(dir, 'maintenance.json');
  const nginxDir = path.join(dir, 'nginx');
  const readyTimeoutMs = options.env.OPS_READY_TIMEOUT ? parseDuration(options.env.OPS_READY_TIMEOUT) : 30_000;

  const load = (): LocalState => {
    const saved = readJson<LocalState>(stateFile);
    const fromEnv = Object.fromEntries(Object.keys(configSpec).filter((k) => !perInstance.has(k) && options.env[k] !== undefined).map((k) => [k, options.env[k]!]));
    const port = options.env.OPS_LOCAL_PORT ? Number(options.env.OPS_LOCAL_PORT) : (saved?.port ?? 8080);
    return { instances: 2, running: [], ...saved, port, settings: { ...defaults, ...saved?.settings, ...fromEnv } };
  };
  const save = (state: LocalState) => writeJsonAtomic(stateFile, state);
  const maintenanceSwitch = (): MaintenanceSwitch => readJson<MaintenanceSwitch>(maintenanceFile) ?? { on: false, message: configSpec.MAINTENANCE_MESSAGE.default, retryAfter: 120 };
  const door = frontDoor({ nginxDir, maintenance: maintenanceSwitch, save: (state) => save(state as LocalState) });
  const url = door.url;
  const nginxConf = door.conf;

  /** The activation in progress, for interrupt(): what it started and what was serving before. */
  let activation: { started: InstanceInfo[]; old: InstanceInfo[]; switched: boolean } | undefined;

  const target = {
    env: 'local',
    kind: 'local' as const,
    /** bluegreen: every new instance, then one switch; rolling: one instance at a time (one reload each). */
    strategies: ['bluegreen', 'rolling'] as const,
    dir,
    state: load,
    frontDoorUrl: () => url(load()),

    async plan({ kind, request, releaseId, artifact }: Parameters<Target['plan']>[0]) {
      const state = load();
      const n = request.instances ?? state.instances;
      const old = state.running.filter(isOurs);
      const source = kind === 'deploy' ? resolveSource(request.version) : undefined;
      return [
        kind === 'deploy'
          ? `build ${releaseId} from ${source!.ref} (git ${source!.gitSha}${source!.dirty ? ', uncommitted changes' : ''}) into ${path.join(releasesDir(options.stateDir, 'local'), releaseId, 'build')}`
          : `reuse the build of ${artifact?.id} (${artifact?.version})`,
        `check the core settings (MONGODB_URI=${state.settings.MONGODB_URI ?? 'MISSING'}, REDIS_URL=${state.settings.REDIS_URL ?? 'none'}, MONGODB_DB=${state.settings.MONGODB_DB})`,
        ...(request.strategy === 'rolling'
          ? [
              `for each of ${n} instance(s), one at a time: start it on a free loopback port (node core/src/main.js, compiled at build), wait for GET /ready (timeout ${readyTimeoutMs} ms)`,
              '  after the first: smoke test it (create a conversation, send over Socket.IO, receive the broadcast)',
              `  put it in the front door ${url(state)} in place of one old instance (write ${nginxConf}, nginx -t, nginx -s reload), then drain and stop that old instance`,
              old.length ? `old instances replaced in turn: ${old.map((i) => `${i.id} (pid ${i.pid})`).join(', ')}; any left over are drained at the end` : 'no old instances to drain',
            ]
          : [
              `start ${n} instance(s) on free loopback ports: node core/src/main.js (compiled at build)`,
              `wait for GET /ready on each (timeout ${readyTimeoutMs} ms)`,
              'smoke test against the new instances: create a conversation, send over Socket.IO on one, receive on another',
              `switch the front door ${url(state)}: write ${nginxConf}, nginx -t, ${state.nginx && isOurs(state.nginx) ? 'nginx -s reload' : 'start nginx'}; verify /health answers the new version`,
              old.length ? `drain and stop ${old.map((i) => `${i.id} (pid ${i.pid})`).join(', ')} (SIGTERM, SHUTDOWN_DRAIN_MS=${state.settings.SHUTDOWN_DRAIN_MS ?? configSpec.SHUTDOWN_DRAIN_MS.default})` : 'no old instances to drain',
            ]),
        `record ${releaseId} (${kind}) and prune builds beyond the newest ${options.env.OPS_KEEP_RELEASES ?? 5}`,
      ];
    },

    async prepare(request: DeployRequest, releaseId: string, out: Output) {
      const buildDir = path.join(releasesDir(options.stateDir, 'local'), releaseId, 'build');
      const info = await out.step(`build ${releaseId} (${request.version ?? 'working tree'})`, () => buildRelease(buildDir, request.version));
      out.info(`  ${releaseId} = ${info.version}, ${buildDir}`);
      return { version: info.version, build: { dir: buildDir, gitSha: info.gitSha, dirty: info.dirty, ref: info.ref, builtAt: info.builtAt }, settings: request.settings };
    },

    async activate(release: ReleaseRecord, artifact: ReleaseRecord, request: DeployRequest, out: Output) {
      const state = load();
      if (!state.settings.MONGODB_URI) {
        throw new OpsError('the local target has no MONGODB_URI', 'start the local services (`npm run services -- up`), export the MONGODB_URI and REDIS_URL it prints, then run ops deploy again', 2);
      }
      if (!artifact.build || artifact.build.pruned || !fs.existsSync(entryPoint(artifact.build.dir))) {
        throw new OpsError(`the build of ${artifact.id} is not on disk (pruned?)`, 'ops releases   # pick a release whose build is kept, or ops deploy');
      }
      const n = request.instances ?? state.instances;
      const old = state.running.filter(isOurs);
      const version = `${artifact.id}-${artifact.version}`;
      const started: InstanceInfo[] = [];
      const drained = new Set<InstanceInfo>();
      // bluegreen: one batch with every instance; rolling: one instance at a time, each replacing an old one.
      const batches = request.strategy === 'rolling' ? Array.from({ length: n }, (_, i) => [i]) : [Array.from({ length: n }, (_, i) => i)];
      activation = { started, old, switched: false };
      let step = 'check settings';
      let cutoverMs = 0;

      const abort = async (error: Error): Promise<never> => {
        const switched = activation?.switched ?? false;
        const survivors = old.filter((i) => !drained.has(i) && isOurs(i));
        let rolledBack = false;
        if (switched && survivors.length) {
          out.info(`  switching the front door back to ${survivors.map((i) => i.id).join(', ')}`);
          await door.apply(state, survivors.map((i) => i.port)).then(() => { rolledBack = true; }, (e: Error) => out.warn(`could not switch back: ${e.message}`));
          if (rolledBack && survivors.length < old.length) out.warn(`only ${survivors.length} of ${old.length} old instance(s) remain: ops rollback restores the full set`);
        }
        if (!switched || rolledBack) await stopInstances(started, state.settings);
        state.running = !switched ? old : rolledBack ? survivors : [...started.filter(isOurs), ...survivors];
        save(state);
        activation = undefined;
        throw new ActivationError(error.message, step, switched, rolledBack, started[0]?.log);
      };

      try {
        await out.step(step, () => {
          try {
            loadConfig(instanceEnv(state.settings, release, artifact, 1, 0));
          } catch (error) {
            throw new Error(error instanceof ConfigError ? error.message : String(error), { cause: error });
          }
        });
        for (const [b, batch] of batches.entries()) {
          const label = batches.length > 1 ? ` [${b + 1}/${batches.length}]` : '';
          const fresh: InstanceInfo[] = [];
          step = `start ${batch.length} instance(s) of ${artifact.id}${label}`;
          await out.step(step, async () => {
            for (const i of batch) {
              const instance = startInstance(artifact.build!.dir, instanceEnv(state.settings, release, artifact, await freePort(), i, await freePort()), path.join(dir, 'logs'), release.id);
              fresh.push(instance);
              out.info(`  ${instance.id} pid ${instance.pid} on 127.0.0.1:${instance.port}, log ${instance.log}`);
            }
            started.push(...fresh);
            state.running = [...old.filter((i) => !drained.has(i)), ...started];
            save(state);
          });
          step = `health gate (/ready)${label}`;
          const deadline = Date.now() + readyTimeoutMs;
          await out.step(step, () => Promise.all(fresh.map((i) => waitReady(i, deadline, readyTimeoutMs))));
          if (b === 0) {
            step = 'smoke test';
            const maintenanceOn = maintenanceSwitch().on || (state.settings.REDIS_URL ? Boolean(await readFlag(state.settings.REDIS_URL).catch(() => undefined)) : false);
            if (maintenanceOn) out.info('  maintenance is on: the smoke test is skipped (the API answers 503); /ready passed');
            else await out.step(step, () => smokeTest(fresh.map((i) => `http://127.0.0.1:${i.port}`), instanceEnv(state.settings, release, artifact, 1, 0)));
          }
          const last = b === batches.length - 1;
          const replaced = last ? old.filter((i) => !drained.has(i)) : old.slice(started.length - fresh.length, started.length);
          const live = [...started, ...old.filter((i) => !drained.has(i) && !replaced.includes(i))];
          step = `switch the front door${label}`;
          await out.step(step, async () => {
            const t0 = performance.now();
            await door.apply(state, live.map((i) => i.port));
            activation!.switched = true;
            if (live.every((i) => started.includes(i))) await door.verify(state, version);
            else await door.verify(state, undefined, 10_000, 3);
            cutoverMs += Math.round(performance.now() - t0);
            out.info(`  ${url(state)} now sends traffic to ${live.map((i) => i.id).join(', ')}`);
          });
          if (replaced.length) {
            step = `drain old instances${label}`;
            // Give the old nginx workers a moment to finish requests they had already forwarded.
            await out.step(`drain and stop ${replaced.map((i) => i.id).join(', ')}${label}`, async () => {
              await sleep(300);
              for (const line of await stopInstances(replaced, state.settings)) out.info(`  ${line}`);
              for (const i of replaced) drained.add(i);
            });
          }
        }
      } catch (error) {
        return abort(error as Error);
      }
      state.running = started;
      state.instances = n;
      save(state);
      activation = undefined;
      out.info(`  ${url(state)} serves ${version} (cutover ${cutoverMs} ms)`);
      return { cutoverMs };
    },

    interrupt() {
      if (!activation) return;
      const state = load();
      if (activation.switched) {
        // The new instances serve; the old ones are drained by the next deploy (or ops stop).
        state.running = [...activation.started, ...activation.old.filter(isOurs)];
      } else {
        for (const i of activation.started) if (isOurs(i)) process.kill(i.pid, 'SIGTERM');
        state.running = activation.old;
      }
      save(state);
      activation = undefined;
    },

    async status(): Promise<StatusReport> {
      const state = load();
      const problems: string[] = [];
      const frontDoorRunning = door.running(state);
      if (!frontDoorRunning) problems.push('the nginx front door is not running');
      const instances = await Promise.all(state.running.map(probeInstance));
      if (instances.length === 0) problems.push('no core instance is running (deploy with: ops deploy)');
      for (const i of instances) if (!i.healthy || !i.ready) problems.push(`${i.id}: ${i.error ?? 'not ready'}`);
      const maintenance = await target.maintenance();
      return { env: 'local', target: 'local', url: url(state), frontDoor: { running: frontDoorRunning, detail: state.nginx ? `nginx pid ${state.nginx.pid}, config ${nginxConf}` : undefined }, instances, maintenance, current: state.running[0]?.release, healthy: problems.length === 0, problems };
    },

    async maintenance(): Promise<MaintenanceStatus> {
      const local = maintenanceSwitch();
      const redisUrl = load().settings.REDIS_URL;
      let unreadable: string | undefined;
      const flag = redisUrl ? await readFlag(redisUrl).catch((error: Error) => { unreadable = error.message; return undefined; }) : undefined;
      // The front door's switch is known either way; "off" needs the core's Redis flag too, so an unreachable Redis leaves it unknown.
      const unknown = unreadable && !local.on ? { what: 'maintenance', reason: `the core's flag in Redis (${redisUrl}) cannot be read: ${unreadable}`, next: 'npm run services -- up   # starts Redis; then: ops maintenance status' } : undefined;
      return { on: local.on || Boolean(flag), message: local.on ? local.message : flag?.message, retryAfter: local.on ? local.retryAfter : flag?.retryAfter, since: local.since ?? flag?.since, frontDoor: local.on, coreFlag: Boolean(flag), ...(unknown ? { unknown } : {}) };
    },

    async setMaintenance(flag: { message: string; retryAfter: number; since: string } | undefined, out: Output) {
      const state = load();
      writeJsonAtomic(maintenanceFile, flag ? { on: true, ...flag } : { ...maintenanceSwitch(), on: false, since: undefined });
      if (state.settings.REDIS_URL) await out.step(`${flag ? 'set' : 'clear'} the core's maintenance flag in Redis`, () => writeFlag(state.settings.REDIS_URL!, flag));
      else out.warn('no REDIS_URL: only the front door switches (instances report maintenance off in /health)');
      const running = state.running.filter(isOurs);
      if (state.nginx && isOurs(state.nginx) && running.length) {
        await out.step('rewrite and reload the front door', async () => {
          await door.apply(state, running.map((i) => i.port));
          await door.awaitMaintenance(state, Boolean(flag));
        });
      } else out.warn('the front door is not running: the switch applies at the next deploy');
      if (state.settings.REDIS_URL && running.length) {
        await out.step(`wait until ${running.length} instance(s) report maintenance ${flag ? 'on' : 'off'}`, () => waitForMaintenance(running, Boolean(flag)));
      }
      return target.maintenance();
    },

    prune(keep: number, protect: Set<string>): string[] {
      const root = releasesDir(options.stateDir, 'local');
      const running = new Set(load().running.map((i) => i.version.split('-')[0]!));
      let builds: string[];
      try {
        builds = fs.readdirSync(root).filter((id) => fs.existsSync(path.join(root, id, 'build'))).sort((a, b) => Number(b.slice(1)) - Number(a.slice(1)));
      } catch {
        return [];
      }
      const removed: string[] = [];
      for (const id of builds.slice(keep)) {
        if (protect.has(id) || running.has(id)) continue;
        fs.rmSync(path.join(root, id, 'build'), { recursive: true, force: true });
        const record = readJson<ReleaseRecord>(path.join(root, id, 'release.json'));
        if (record?.build) writeJsonAtomic(path.join(root, id, 'release.json'), { ...record, build: { ...record.build, pruned: new Date().toISOString() } });
        removed.push(id);
      }
      return removed;
    },

    async stop(out: Output) {
      const state = load();
      const running = state.running.filter(isOurs);
      if (running.length) await out.step(`drain and stop ${running.map((i) => i.id).join(', ')}`, async () => { for (const line of await stopInstances(running, state.settings)) out.info(`  ${line}`); });
      if (state.nginx) await out.step('stop the nginx front door', async () => { out.info(`  nginx: ${await stopDaemon(state.nginx!, 5_000)}`); });
      state.running = [];
      delete state.nginx;
      save(state);
    },
  };
  return target;
}

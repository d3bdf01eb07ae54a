import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createOutput, EXIT_UNKNOWN, OpsError } from '../cli/output';
import { underLockKey, withCommandLock } from '../commands/command-lock';
import { MissingCommandError, run } from '../process';
import { dirState } from '../state/dir-state';
import { openState, stateUrlOf } from '../state/open-state';
import { closest } from '../cli/did-you-mean';
import { defaultBackupLocation, knownStacks } from '../state/stacks';
import { freePort } from '../services/ports';
import { stackConfigFromFile, stackManifests } from '../../infra/render';
import { kubectlPods } from '../targets/kubernetes/pods';
import { pulumiRunner } from '../targets/kubernetes/stack-runner';
import { environmentOf } from '../preflight/commands';
import { runOps } from './helpers';

/**
 * Issue 26, the operator's side of `ops` against a stack: input checked (--env, extra words, --version),
 * shared state by default, lock semantics the runbooks can follow, and unknown printed as unknown.
 */
let dir: string;
let env: NodeJS.ProcessEnv;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ops-operator-'));
  env = { OPS_STATE_DIR: dir, OPS_USER: 'alice' };
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('input checked', () => {
  test('--env must name local or a committed stack: a typo is refused with the known ones and a "did you mean"', async () => {
    expect(knownStacks()).toEqual(expect.arrayContaining(['dev', 'staging', 'production']));
    const prod = await runOps(['deploy', '--env', 'prod', '--dry-run'], env);
    expect(prod.code).toBe(2);
    expect(prod.stderr).toContain('unknown environment "prod"');
    expect(prod.stderr).toContain('Did you mean "production"?');
    expect(prod.stderr).toContain('next: rerun with --env production');
    const none = await runOps(['status', '--env', 'qa'], env);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/Known: local, .*production/);
    expect((await runOps(['releases'], { ...env, OPS_ENV: 'stagin' })).stderr).toContain('Did you mean "staging"?');
    expect(closest('prod', ['local', 'dev', 'staging', 'production'])[0]).toBe('production');
  });

  test('ops rollback <release> means --to <release>; ops deploy <ref> means --version <ref>; other extra words are refused', async () => {
    // Honoured: the named release is looked up (not "the previous good one").
    const rollback = await runOps(['rollback', 'v3', '--env', 'local'], env);
    expect(rollback.code).toBe(2);
    expect(rollback.stderr).toContain('no release v3 in local');
    const deploy = await runOps(['deploy', 'v42', '--env', 'production', '--dry-run', '--json'], { ...env, OPS_STATE_URL: `dir:${dir}` });
    expect(deploy.code).toBe(0);
    expect((JSON.parse(deploy.stdout) as { plan: string[] }).plan.join('\n')).toContain(':v42');
    for (const argv of [['deploy', 'v42', 'v43', '--env', 'local', '--dry-run'], ['deploy', 'v42', '--version', 'v41', '--dry-run'], ['releases', 'v3'], ['lock', 'status', 'now'], ['status', 'production']]) {
      const run = await runOps(argv, env);
      expect({ argv, code: run.code, next: run.stderr.includes('next: ops ') }).toEqual({ argv, code: 2, next: true });
    }
  });

  test('ops --version prints the version and exits 0; an unknown command suggests the close ones', async () => {
    const version = await runOps(['--version'], env);
    expect(version.code).toBe(0);
    expect(version.stdout).toMatch(/^ops \d+\.\d+\.\d+ \(commit [0-9a-f]{12}, node \d+/);
    const typo = await runOps(['rolback'], env);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('did you mean: ops rollback');
  });
});

describe('shared state by default on a stack', () => {
  const stackFile = (body: string) => {
    fs.writeFileSync(path.join(dir, 'Pulumi.production.yaml'), `config:\n  switchboard:environment: production\n${body}`);
  };

  test('the state URL comes from switchboard:ops.stateUrl in the stack file, without OPS_STATE_URL', () => {
    stackFile('  switchboard:ops:\n    stateUrl: s3://switchboard-production-backups/ops\n');
    const state = openState('production', path.join(dir, 'state'), {}, { workDir: dir });
    expect({ description: state.description, shared: state.shared }).toEqual({ description: 's3://switchboard-production-backups/ops', shared: true });
    // OPS_STATE_URL still overrides (a drill against a copy, a test).
    expect(openState('production', dir, { OPS_STATE_URL: `dir:${dir}/x` }, { workDir: dir }).description).toBe(`dir:${dir}/x`);
  });

  test('a stack file with only switchboard:backup.bucket: state at s3://<bucket>/ops, backups at s3://<bucket>/<environment>; overrides win and are named', () => {
    stackFile('  switchboard:backup:\n    bucket: switchboard-production-backups-333333333333\n');
    const state = openState('production', path.join(dir, 'state'), {}, { workDir: dir });
    expect({ description: state.description, shared: state.shared }).toEqual({ description: 's3://switchboard-production-backups-333333333333/ops', shared: true });
    expect(stateUrlOf('production', {}, dir)).toEqual({ value: 's3://switchboard-production-backups-333333333333/ops', source: 'switchboard:backup.bucket in infra/Pulumi.production.yaml' });
    expect(defaultBackupLocation('production', {}, dir)).toEqual({ value: 's3://switchboard-production-backups-333333333333/production', source: 'switchboard:backup.bucket in infra/Pulumi.production.yaml' });
    // Overrides: OPS_STATE_URL, then switchboard:ops.stateUrl; BACKUP_LOCATION for backups. local has no stack default.
    expect(stateUrlOf('production', { OPS_STATE_URL: 'dir:/x' }, dir)).toEqual({ value: 'dir:/x', source: 'OPS_STATE_URL' });
    expect(defaultBackupLocation('production', { BACKUP_LOCATION: 'dir:/b' }, dir)).toEqual({ value: 'dir:/b', source: 'BACKUP_LOCATION' });
    expect(defaultBackupLocation('local', {}, dir)).toBeUndefined();
    stackFile('  switchboard:backup:\n    bucket: Not_A_Bucket\n');
    expect(() => openState('production', dir, {}, { workDir: dir })).toThrow(/switchboard:backup.bucket in infra\/Pulumi.production.yaml is not an S3 bucket name/);
  });

  test('one source: the committed stack\'s CronJobs, `ops backup --env` and the shared state all use its switchboard:backup.bucket', async () => {
    const bucket = stackConfigFromFile('production').backup?.bucket;
    expect(bucket).toBeDefined();
    const cronJobLocations = stackManifests('production', { ruleGroups: [], dashboards: [] })
      .filter((m) => m.kind === 'CronJob' && (m.metadata as { labels?: Record<string, string> }).labels?.['app.kubernetes.io/component'] === 'backup')
      .map((m) => ((m as any).spec.jobTemplate.spec.template.spec.containers[0].env as { name: string; value?: string }[]).find((e) => e.name === 'BACKUP_LOCATION')?.value);
    const opsLocation = defaultBackupLocation('production', {})?.value;
    expect(cronJobLocations).toEqual([opsLocation, opsLocation]);
    expect(opsLocation).toBe(`s3://${bucket}/production`);
    expect(stateUrlOf('production', {})?.value).toBe(`s3://${bucket}/ops`);
    // The CLI, without BACKUP_LOCATION: targets that location and says where it came from (no S3 answers here: a closed port).
    const closed = `http://127.0.0.1:${await freePort()}`;
    const list = await runOps(['backup', 'list', '--env', 'production', '--json'], { ...env, BACKUP_S3_ENDPOINT: closed, AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y', AWS_REGION: 'eu-west-1' });
    expect(list.stderr).toContain(`backup location: ${opsLocation} (switchboard:backup.bucket in infra/Pulumi.production.yaml)`);
    expect(list.code).not.toBe(0);
  }, 60_000);

  test('a stack without shared state is refused with the command that sets it; --local-state is explicit and loud', async () => {
    stackFile('');
    const refusal = (() => {
      try {
        openState('production', dir, {}, { workDir: dir });
      } catch (error) {
        return error as OpsError;
      }
      return undefined;
    })();
    expect(refusal).toBeInstanceOf(OpsError);
    expect(refusal?.message).toContain('no shared state for the stack production: neither switchboard:backup.bucket nor switchboard:ops.stateUrl is set');
    expect(refusal?.next).toContain('pulumi config set --path --stack production switchboard:backup.bucket "$(pulumi stack output backupBucket --stack production)"');
    expect(() => defaultBackupLocation('production', {}, dir)).not.toThrow();
    expect(defaultBackupLocation('production', {}, dir)).toBeUndefined();
    const local = await runOps(['lock', 'acquire', '--env', 'production', '-m', 'drill', '--ttl', '10m', '--local-state'], env);
    expect(local.code).toBe(0);
    expect(local.stdout).toContain('ONLY ON THIS MACHINE');
    const status = await runOps(['lock', 'status', '--env', 'production', '--local-state'], env);
    expect(status.stdout).toMatch(/locked: alice .* \(\d+(\.\d+)? ?min? left\)|left\)/);
    expect(status.stdout).toContain('ONLY ON THIS MACHINE');
  });
});

describe('lock semantics the runbooks can follow', () => {
  const out = () => createOutput({ stdout: { write: () => true }, stderr: { write: () => true } }, false);
  const locked = (who: string, extra: NodeJS.ProcessEnv = {}) => (fn: () => Promise<void>) =>
    withCommandLock({ values: {}, env: { OPS_USER: who, ...extra }, out: out() }, { env: 'local', state: dirState(dir), action: 'maintenance.on', message: 'test' }, fn);

  test('a manual lock needs an explicit --ttl > 0', async () => {
    const missing = await runOps(['lock', 'acquire', '-m', 'window'], env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--ttl');
    expect((await runOps(['lock', 'acquire', '-m', 'window', '--ttl', '0s'], env)).code).toBe(2);
    expect((await runOps(['lock', 'status'], env)).stdout).toContain('not locked');
  });

  test('the holder\'s own commands run under the manual lock; everyone else is refused unless they hold its token', async () => {
    const acquired = await runOps(['lock', 'acquire', '-m', 'maintenance window', '--ttl', '2h', '--json'], env);
    expect(acquired.code).toBe(0);
    const { token } = JSON.parse(acquired.stdout) as { token: string };
    expect((await runOps(['lock', 'acquire', '-m', 'w', '--ttl', '2h'], env)).code).toBe(3);
    let ran = 0;
    await locked('alice')(async () => { ran++; });
    await expect(locked('bob')(async () => { ran++; })).rejects.toMatchObject({ exitCode: 3 });
    await locked('bob', { OPS_LOCK_TOKEN: token })(async () => { ran++; });
    expect(ran).toBe(2);
    // Two commands under the same manual lock still exclude each other.
    await locked('alice')(async () => {
      expect((await dirState(dir).readLock(underLockKey('local')))?.owner).toBe('alice');
      await expect(locked('alice')(async () => { ran++; })).rejects.toMatchObject({ exitCode: 3 });
    });
    expect(ran).toBe(2);
    // The manual lock is still there after its holder's commands.
    expect((await dirState(dir).readLock('local'))?.kind).toBe('manual');
  });
});

describe('unknown is unknown', () => {
  const stackEnv = () => ({ ...env, OPS_STATE_URL: `dir:${dir}` });

  test('maintenance status without REDIS_URL, or with an unreachable Redis, is unknown (exit 4) with the next command, never "off"', async () => {
    for (const extra of [{}, { REDIS_URL: 'redis://127.0.0.1:1' }]) {
      const run = await runOps(['maintenance', 'status', '--env', 'production'], { ...stackEnv(), ...extra });
      expect(run.code).toBe(EXIT_UNKNOWN);
      expect(run.stdout).toMatch(/^maintenance: unknown \(.+\) → next: /);
      expect(run.stdout).not.toContain('maintenance off');
    }
  });

  test('ops status on a stack that cannot be read says UNKNOWN, not DOWN/off, and does not suggest a deploy', async () => {
    // No cluster named switchboard-production here, no Pulumi CLI, no REDIS_URL.
    const run = await runOps(['status', '--env', 'production'], stackEnv());
    expect(run.code).toBe(EXIT_UNKNOWN);
    expect(run.stdout).toContain('production (kubernetes): UNKNOWN');
    expect(run.stdout).toContain('front door: unknown');
    expect(run.stdout).toContain('maintenance  unknown');
    expect(run.stdout).not.toMatch(/DOWN|maintenance +off|next: ops deploy/);
  }, 60_000);

  test('a missing CLI is reported by name with how to install it', async () => {
    await expect(run('no-such-cli-for-ops-test', ['x'])).rejects.toBeInstanceOf(MissingCommandError);
    if (process.env.PATH?.split(':').some((d) => fs.existsSync(path.join(d, 'pulumi')))) return; // this machine has Pulumi
    const error = await pulumiRunner('production').outputs().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MissingCommandError);
    expect((error as MissingCommandError).command).toBe('pulumi');
    expect((error as Error).message).not.toContain('-2');
  });

  test('kubectl never falls back to the current context: without the stack\'s context it refuses to look', async () => {
    await expect(kubectlPods(undefined, 'production').list()).rejects.toThrow(/switchboard:cluster\.context/);
  });
});

describe('OPS_PUBLIC_URL defaults to the stack\'s host', () => {
  test('verify and preflight on a stack use https://<switchboard:edge.host> of the committed stack file; OPS_PUBLIC_URL overrides; local keeps its front door', () => {
    const committedHost = /switchboard:edge:\n(?: {4}.*\n)*? {4}host: (\S+)/.exec(fs.readFileSync(path.join(__dirname, '..', '..', 'infra', 'Pulumi.production.yaml'), 'utf8'))?.[1];
    expect(committedHost).toBeDefined();
    expect(environmentOf({ values: { env: 'production' }, env }).publicUrl).toBe(`https://${committedHost}`);
    expect(environmentOf({ values: { env: 'production' }, env: { ...env, OPS_PUBLIC_URL: 'https://canary.example.com' } }).publicUrl).toBe('https://canary.example.com');
    expect(environmentOf({ values: { env: 'local' }, env }).publicUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });
});

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../cli/main';
import { startChild } from '../process';
import { createRelease, finished, saveRelease } from '../state/releases';
import { containerSecurityContext, podSecurityContext } from '../../infra/src/k8s/security';
import { tunnelContainerSecurityContext, tunnelPodArgs, tunnelPodSecurityContext, tunnelRemote } from '../targets/kubernetes/access';
import { coreNamespace, coreSelector } from '../targets/kubernetes/pods';
import { writeFlag } from '../targets/maintenance-flag';
import { runOps, sleep } from './helpers';

/**
 * `ops details`, `ops logs`, `ops exec` and `ops tunnel` on a stack, against a stand-in `kubectl` on the
 * PATH (no kubelet here: `kubectl logs`, `exec` and `port-forward` need one). The stand-in records its
 * arguments and answers as kubectl does: a PodList, the pod proxy's /health, log lines (following until
 * SIGTERM), `exec` runs the command here, `port-forward` prints "Forwarding from" and stays up.
 * What this proves: the exact kubectl command lines (pinned context, namespace, selector, container),
 * the pod chosen, and that the tunnel deletes its pod on Ctrl-C and on a failed forward.
 */
let dir: string;
let stateDir: string;
const savedPath = process.env.PATH;
const calls = () => fs.readFileSync(path.join(dir, 'calls'), 'utf8').split('\n').filter(Boolean);
const ctx = ['--context', 'prod-ctx', '-n', coreNamespace];
const base = ctx.join(' ');
const env = (extra: NodeJS.ProcessEnv = {}) => ({ OPS_STATE_DIR: stateDir, OPS_USER: 'tester', OPS_KUBE_CONTEXT: 'prod-ctx', PATH: process.env.PATH, HOME: process.env.HOME, ...extra });
const stack = ['--env', 'production', '--local-state'];
const secretUri = 'mongodb://app:s3cret@mongo-0.internal.example:27017/switchboard?tls=true&replicaSet=rs0';

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ops-verbs-kubectl-'));
  stateDir = path.join(dir, 'state');
  const pod = (name: string, ready: boolean, extra: Record<string, unknown> = {}) => ({
    metadata: { name, creationTimestamp: '2026-01-01T00:00:00Z' },
    spec: { nodeName: `node-${name.slice(-1)}`, containers: [{ name: 'core', image: 'repo@sha256:aa' }] },
    status: { phase: 'Running', startTime: '2026-01-01T00:00:05Z', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }], containerStatuses: [{ name: 'core', imageID: 'repo@sha256:aa', restartCount: ready ? 0 : 4 }], ...extra },
  });
  fs.writeFileSync(path.join(dir, 'pods.json'), JSON.stringify({ kind: 'PodList', items: [pod('core-b', false), pod('core-a', true)] }));
  fs.writeFileSync(path.join(dir, 'secret'), Buffer.from(secretUri).toString('base64'));
  fs.writeFileSync(path.join(dir, 'redis-secret'), Buffer.from('rediss://:tok3n@master.cache.internal.example:6379').toString('base64'));
  fs.writeFileSync(path.join(dir, 'kubectl'), `#!/bin/sh
echo "$*" >> "${dir}/calls"
follow() { trap 'exit 0' TERM; while :; do sleep 0.05; done; }
case "$*" in
  *"get pods"*) cat "${dir}/pods.json" ;;
  *core-a:3000/proxy/health) echo '{"status":"ok","version":"aaaaaaaaaaaa"}' ;;
  *core-b:3000/proxy/health) echo 'Error from server (ServiceUnavailable): {"status":"starting"}' >&2; exit 1 ;;
  *" logs "*) echo "[pod/core-a/core] line one"; case "$*" in *--follow*) follow ;; esac ;;
  *" exec "*) while [ "$1" != "--" ]; do shift; done; shift; exec "$@" ;;
  *"get secret switchboard-secrets"*REDIS_URL*) cat "${dir}/redis-secret" ;;
  *"get secret switchboard-secrets"*) cat "${dir}/secret" ;;
  *" run ops-tunnel-"*) echo "pod/$6 created" ;;
  *" wait "*) echo "condition met" ;;
  *" port-forward "*)
    if [ -n "$FAKE_PF_FAIL" ]; then echo 'error: unable to forward port because pod is not running' >&2; exit 1; fi
    port=\${7%%:*}
    if [ -n "$FAKE_PF_TARGET" ]; then exec node "${dir}/pf-proxy.js" "$port" "$FAKE_PF_TARGET"; fi
    echo "Forwarding from 127.0.0.1:$port -> 27017"; follow ;;
  *" delete pod "*) echo "pod deleted" ;;
  *) echo "error: unexpected $*" >&2; exit 1 ;;
esac
`, { mode: 0o755 });
  // With FAKE_PF_TARGET the stand-in forwards for real (as port-forward does): a TCP relay to that host:port.
  fs.writeFileSync(path.join(dir, 'pf-proxy.js'), `const net = require('net');
const [port, target] = process.argv.slice(2);
const [host, remotePort] = target.split(':');
const server = net.createServer((c) => { const r = net.connect(Number(remotePort), host); c.pipe(r).pipe(c); c.on('error', () => r.destroy()); r.on('error', () => c.destroy()); });
server.listen(Number(port), '127.0.0.1', () => console.log('Forwarding from 127.0.0.1:' + port + ' -> ' + remotePort));
process.on('SIGTERM', () => process.exit(0));
`);
  process.env.PATH = `${dir}:${savedPath}`;
  const v1 = createRelease(stateDir, 'production', { kind: 'deploy', version: 'aaaaaaaaaaaa', image: 'repo@sha256:aa', who: 'alice', description: 'first' });
  saveRelease(stateDir, finished(v1, { status: 'succeeded' }));
  const v2 = createRelease(stateDir, 'production', { kind: 'config', version: 'aaaaaaaaaaaa', image: 'repo@sha256:aa', who: 'bob', description: 'debug logs', config: { LOG_LEVEL: { value: 'debug' }, JWT_HS256_KEYS: { secure: 'v1:cipher' } } });
  saveRelease(stateDir, finished(v2, { status: 'succeeded' }));
});
beforeEach(() => fs.rmSync(path.join(dir, 'calls'), { force: true }));
afterAll(() => {
  process.env.PATH = savedPath;
  fs.rmSync(dir, { recursive: true, force: true });
});

test('releases show on a stack: a config release names the settings it changed, secrets never by value', async () => {
  const r = await runOps(['releases', 'show', 'v2', ...stack], env());
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/^v2 in production: config, succeeded \(serving\)/);
  expect(r.stdout).toMatch(/changed +JWT_HS256_KEYS \(committed\) → \[secret\], LOG_LEVEL \(committed\) → "debug" \(vs v1\)/);
  expect(r.stdout).not.toContain('v1:cipher');
});

test('details: each pod from kubectl with the pinned context; what cannot be read is unknown (exit 4)', async () => {
  const r = await runOps(['details', ...stack], env());
  expect(r.code).toBe(4);
  expect(r.stdout).toMatch(/release +v2 \(config, aaaaaaaaaaaa\)/);
  expect(r.stdout).toMatch(/core-b +unknown +NO +4 +\S+ +node-b/);
  expect(r.stdout).toMatch(/core-a +aaaaaaaaaaaa +yes +0 +\S+ +node-a/);
  expect(r.stdout).toMatch(/unknown: core-b version: \/health answered 503 — next: ops logs --env production --instance core-b/);
  // No REDIS_URL: the maintenance flag lives in the stack's Redis, so "off" is not claimed.
  expect(r.stdout).toMatch(/unknown: maintenance: REDIS_URL is not set/);
  expect(r.stdout).not.toMatch(/maintenance +off/);
  expect(calls()).toContain(`${base} get pods -l ${coreSelector} -o json`);
  expect(calls().every((c) => c.startsWith('--context prod-ctx '))).toBe(true);
});

test('without OPS_KUBE_CONTEXT: the context committed in the stack file (switchboard:cluster.context), never the current one', async () => {
  const r = await runOps(['logs', ...stack], { ...env(), OPS_KUBE_CONTEXT: undefined });
  expect(r.code).toBe(0);
  expect(calls()).toEqual([`--context switchboard-production -n ${coreNamespace} logs -l ${coreSelector} --prefix --tail=-1 --max-log-requests=20 -c core`]);
});

test('logs: every core pod by selector (prefixed, whole log), one pod with --instance, --since and --follow passed on', async () => {
  const all = await runOps(['logs', ...stack, '--since', '10m'], env());
  expect((await runOps(['logs', ...stack, '--since', 'yesterday'], env())).code).toBe(2);
  expect(all.code).toBe(0);
  expect(all.stdout).toBe('[pod/core-a/core] line one\n');
  expect(calls()).toEqual([`${base} logs -l ${coreSelector} --prefix --tail=-1 --max-log-requests=20 -c core --since=600s`]);
  fs.rmSync(path.join(dir, 'calls'));
  let stdout = '';
  const following = runCli(['logs', ...stack, '--instance', 'core-a', '-f'], { stdout: { write: (c: string) => (stdout += c) }, stderr: { write: () => true } }, env());
  for (let i = 0; i < 200 && !stdout.includes('line one'); i++) await sleep(25);
  expect(stdout).toContain('line one');
  process.emit('SIGINT');
  expect(await following).toBe(0);
  expect(calls()).toEqual([`${base} get pods -l ${coreSelector} -o json`, `${base} logs pod/core-a -c core --follow`]);
  const wrong = await runOps(['logs', ...stack, '--instance', 'core-c'], env());
  expect(wrong.code).toBe(2);
  expect(wrong.stderr).toMatch(/no pod "core-c" .* did you mean core-a, core-b\?/);
});

test('exec: into the first ready pod (or --instance), container core, exit code passed on', async () => {
  const r = await runOps(['exec', ...stack, '--', 'sh', '-c', 'echo in-pod; exit 7'], env());
  expect(r.code).toBe(7);
  expect(r.stdout).toBe('in-pod\n');
  expect(calls().at(-1)).toBe(`${base} exec core-a -c core -- sh -c echo in-pod; exit 7`);
  await runOps(['exec', ...stack, '--instance', 'core-b', '--', 'true'], env());
  expect(calls().at(-1)).toBe(`${base} exec core-b -c core -- true`);
});

test('tunnel: the Secret\'s host through a short-lived pod and port-forward; prints the URI; Ctrl-C deletes the pod', async () => {
  let stdout = '';
  let stderr = '';
  const running = runCli(['tunnel', 'mongodb', ...stack, '--port', '27777'], { stdout: { write: (c: string) => (stdout += c) }, stderr: { write: (c: string) => (stderr += c) } }, env());
  for (let i = 0; i < 400 && !stdout.includes('export '); i++) await sleep(25);
  const uri = 'mongodb://app:s3cret@127.0.0.1:27777/switchboard?tls=true&directConnection=true&tlsAllowInvalidHostnames=true&authSource=admin';
  expect(stdout).toBe(`${uri}\nexport MONGODB_URI='${uri}'\n`);
  expect(stderr).toMatch(/Ctrl-C closes it and deletes the pod/);
  process.emit('SIGINT');
  expect(await running).toBe(0);
  const seen = calls();
  const pod = /run (ops-tunnel-mongodb-[0-9a-f]{6})/.exec(seen.join('\n'))?.[1];
  expect(pod).toBeDefined();
  expect(seen[0]).toBe(`${base} get secret switchboard-secrets -o jsonpath={.data.MONGODB_URI}`);
  expect(seen[1]).toMatch(new RegExp(`^${base} run ${pod} --image=\\S+ --restart=Never .* --override-type=strategic --overrides=\\{.*"activeDeadlineSeconds":43200.* -- TCP-LISTEN:27017,fork,reuseaddr TCP:mongo-0.internal.example:27017$`));
  expect(seen.slice(2)).toEqual([`${base} wait --for=condition=Ready pod/${pod} --timeout=120s`, `${base} port-forward pod/${pod} 27777:27017 --address=127.0.0.1`, `${base} delete pod ${pod} --ignore-not-found --wait=false`]);
});

test('tunnel as the real ops executable: Ctrl-C (SIGINT to its pid) ends the forward and deletes the pod', async () => {
  const log = path.join(dir, 'ops-tunnel.log');
  const ops = startChild({ name: 'ops-tunnel-e2e', command: path.join(__dirname, '..', 'bin', 'ops'), args: ['tunnel', 'redis', ...stack], logFile: log, env: { ...env(), REDIS_URL: undefined } });
  try {
    const text = () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '');
    for (let i = 0; i < 600 && !text().includes('Ctrl-C closes it'); i++) await sleep(50);
    expect(text()).toMatch(/export REDIS_URL='rediss:\/\/:tok3n@127\.0\.0\.1:\d+'/);
    process.kill(ops.pid, 'SIGINT');
    expect(await ops.exited).toBe('exited with code 0');
    expect(calls().find((c) => / run ops-tunnel-redis-/.test(c))).toMatch(/ -- TCP-LISTEN:6379,fork,reuseaddr TCP:master\.cache\.internal\.example:6379$/);
    expect(calls().at(-1)).toMatch(/delete pod ops-tunnel-redis-[0-9a-f]{6} --ignore-not-found/);
  } finally {
    await ops.stop(2_000);
  }
}, 60_000);

test('tunnel: a port-forward that fails says so, and the pod is deleted anyway', async () => {
  process.env.FAKE_PF_FAIL = '1';
  try {
    const r = await runOps(['tunnel', 'mongodb', ...stack], env());
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/port-forward ended before it forwarded: error: unable to forward port[\s\S]*next: kubectl --context prod-ctx/);
    expect(calls().at(-1)).toMatch(/delete pod ops-tunnel-mongodb-/);
  } finally {
    delete process.env.FAKE_PF_FAIL;
  }
});

test('the local URI of a tunnel: Redis keeps its scheme and password; --remote picks a member; bad input refused', async () => {
  expect((await tunnelRemote('redis', 'rediss://:tok@master.cache.example:6379')).localUri(7000)).toBe('rediss://:tok@127.0.0.1:7000');
  const member = await tunnelRemote('mongodb', 'mongodb+srv://u:p@cluster0.example.net/switchboard', 'primary.example.net:27017');
  expect(member).toMatchObject({ host: 'primary.example.net', port: 27017 });
  expect(member.localUri(1)).toBe('mongodb://u:p@127.0.0.1:1/switchboard?directConnection=true&tls=true&tlsAllowInvalidHostnames=true&authSource=admin');
  await expect(tunnelRemote('mongodb', secretUri, 'not a host')).rejects.toThrow(/not host:port/);
  expect((await runOps(['tunnel', 'mongodb', ...stack, '--port', '99999'], env())).code).toBe(2);
});

test('the tunnel pod passes the namespace\'s Pod Security "restricted": the core\'s own security contexts', () => {
  expect(tunnelPodSecurityContext).toEqual(podSecurityContext);
  expect(tunnelContainerSecurityContext).toEqual(containerSecurityContext);
  const args = tunnelPodArgs('production', { OPS_KUBE_CONTEXT: 'c' }, 'ops-tunnel-redis-abcdef', { host: 'h', port: 6379 }, 'img', 60);
  const overrides = JSON.parse(args.find((a) => a.startsWith('--overrides='))!.slice('--overrides='.length)) as { spec: { securityContext: unknown; automountServiceAccountToken: boolean; containers: { name: string; securityContext: unknown; resources: unknown }[] } };
  expect(overrides.spec).toMatchObject({ securityContext: podSecurityContext, automountServiceAccountToken: false, containers: [{ name: 'ops-tunnel-redis-abcdef', securityContext: containerSecurityContext, resources: { limits: expect.any(Object) } }] });
});

describe('--via-tunnel: a command that needs a stack\'s data store opens the tunnel itself and closes it afterwards', () => {
  // A Redis database of its own in the suite's Redis: the maintenance flag here must not reach other suites' cores.
  let saved: string;
  const local = new URL(process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379');
  const flagDb = `redis://${local.host}/13`;
  beforeAll(() => {
    saved = fs.readFileSync(path.join(dir, 'redis-secret'), 'utf8');
    fs.writeFileSync(path.join(dir, 'redis-secret'), Buffer.from('redis://master.cache.internal.example:6379/13').toString('base64'));
    process.env.FAKE_PF_TARGET = local.host;
  });
  afterAll(async () => {
    delete process.env.FAKE_PF_TARGET;
    fs.writeFileSync(path.join(dir, 'redis-secret'), saved);
    await writeFlag(flagDb, undefined);
  });

  test('maintenance status reads the stack\'s Redis through a tunnel pod, which is deleted when the command ends', async () => {
    await writeFlag(flagDb, { message: 'planned upgrade', retryAfter: 300, since: '2026-01-01T00:00:00Z' });
    const r = await runOps(['maintenance', 'status', ...stack, '--via-tunnel', '--json'], env({ REDIS_URL: undefined }));
    expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: 0 });
    expect(JSON.parse(r.stdout)).toMatchObject({ known: true, maintenance: { on: true, coreFlag: true, message: 'planned upgrade' } });
    const seen = calls();
    const pod = /run (ops-tunnel-redis-[0-9a-f]{6})/.exec(seen.join('\n'))?.[1];
    expect(pod).toBeDefined();
    expect(seen.find((c) => c.includes(' run '))).toMatch(/ -- TCP-LISTEN:6379,fork,reuseaddr TCP:master\.cache\.internal\.example:6379$/);
    expect(seen.at(-1)).toBe(`${base} delete pod ${pod} --ignore-not-found --wait=false`);
    // Without it the same command cannot tell, and says how to get there.
    const without = await runOps(['maintenance', 'status', ...stack], env({ REDIS_URL: undefined }));
    expect(without.code).not.toBe(0);
    expect(without.stdout + without.stderr).toMatch(/unknown[\s\S]*--via-tunnel/);
  });

  test('a tunnel that cannot open: the command does not run, the pod is deleted, the reason is printed', async () => {
    process.env.FAKE_PF_FAIL = '1';
    try {
      const r = await runOps(['maintenance', 'status', ...stack, '--via-tunnel'], env({ REDIS_URL: undefined }));
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/port-forward ended before it forwarded/);
      expect(calls().at(-1)).toMatch(/delete pod ops-tunnel-redis-/);
      expect(calls().some((c) => c.includes('get pods'))).toBe(false);
    } finally {
      delete process.env.FAKE_PF_FAIL;
    }
  });

  test('refused where it means nothing; on the local target nothing is opened', async () => {
    const r = await runOps(['lock', 'status', ...stack, '--via-tunnel'], env());
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/reaches neither MongoDB nor Redis/);
    const local = await runOps(['maintenance', 'status', '--env', 'local', '--via-tunnel', '--json'], { ...env(), OPS_STATE_DIR: path.join(dir, 'local-state') });
    expect(local.stderr).toMatch(/no tunnel opened/);
    expect(fs.existsSync(path.join(dir, 'calls'))).toBe(false);
  });
});

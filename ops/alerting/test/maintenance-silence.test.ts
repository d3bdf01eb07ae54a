import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { maintenanceExplains } from '../../../alerts/routing';
import { renderAlertmanager } from '../../../alerts/generate';
import { startAlertmanager, type RunningAlertmanager } from '../../services/alertmanager';
import { freePort } from '../../services/ports';
import { runOps } from '../../test/helpers';
import { stackSetting } from '../../state/stacks';
import { ALERTMANAGER_URL_KEY, alertmanagerUrlOf, expireMaintenance, silenceMaintenance } from '../maintenance-silence';
import { maintenanceSilences } from '../silences';

/** `ops maintenance on|off`'s silence against a real Alertmanager, and what happens when it is away. */
jest.setTimeout(60_000);

let work: string;
let am: RunningAlertmanager | undefined;
const lines: { warn: string[]; info: string[] } = { warn: [], info: [] };
const out = { warn: (l: string) => lines.warn.push(l), info: (l: string) => lines.info.push(l) };

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-silence-'));
  const file = path.join(work, 'alertmanager.yml');
  fs.writeFileSync(file, renderAlertmanager({ endpoints: { pagerdutyUrl: 'http://127.0.0.1:9/x', pagerdutyRoutingKey: { value: 'k' }, slackWebhook: { value: 'http://127.0.0.1:9/y' } } }));
  am = await startAlertmanager(file, work, 'silence-alertmanager');
});

afterAll(async () => {
  await am?.stop();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

beforeEach(() => {
  lines.warn.length = 0;
  lines.info.length = 0;
});

it('on: one silence for the environment and the alerts maintenance explains, ending at the window end, operator and message as comment; off: expired', async () => {
  // Alertmanager keeps real time: the window is relative to now, only its length is asserted.
  const now = new Date();
  const endsAt = new Date(now.getTime() + 90 * 60_000);
  const on = await silenceMaintenance({ alertmanagerUrl: am!.url, env: 'staging', operator: 'alice@ops', message: 'database upgrade', now, endsAt, out });
  expect(on.problem).toBeUndefined();
  expect(on.ids).toHaveLength(1);
  expect(lines.warn).toEqual([]);
  const [stored, ...rest] = await maintenanceSilences(am!.url, 'staging');
  expect(rest).toEqual([]);
  expect(stored!.id).toBe(on.ids[0]);
  expect(stored!.createdBy).toBe('ops maintenance (alice@ops)');
  expect(stored!.comment).toBe('maintenance by alice@ops: database upgrade');
  expect(Date.parse(stored!.endsAt) - Date.parse(stored!.startsAt)).toBeGreaterThan(89 * 60_000);
  const byName = Object.fromEntries(stored!.matchers.map((m) => [m.name, m]));
  expect(byName.environment).toMatchObject({ value: 'staging', isRegex: false, isEqual: true });
  expect(byName.alertname).toMatchObject({ isRegex: true, isEqual: true });
  expect(byName.alertname!.value.split('|').sort()).toEqual([...maintenanceExplains].sort());
  // Another environment's window is not touched by off.
  const other = await silenceMaintenance({ alertmanagerUrl: am!.url, env: 'production', operator: 'bob', message: 'x', now, endsAt, out });

  const off = await expireMaintenance({ alertmanagerUrl: am!.url, env: 'staging', out });
  expect(off.ids).toEqual(on.ids);
  expect(off.audit).toContain(on.ids[0]);
  expect(await maintenanceSilences(am!.url, 'staging')).toEqual([]);
  expect((await maintenanceSilences(am!.url, 'production')).map((s) => s.id)).toEqual(other.ids);
  expect((await expireMaintenance({ alertmanagerUrl: am!.url, env: 'staging', out })).ids).toEqual([]);
});

it('unreachable Alertmanager: a warning with the amtool command to run by hand, no exception (maintenance proceeds)', async () => {
  const closed = `http://127.0.0.1:${await freePort()}`;
  const now = new Date();
  const on = await silenceMaintenance({ alertmanagerUrl: closed, env: 'staging', operator: 'alice', message: "it's late", now, endsAt: new Date(now.getTime() + 60_000), out });
  expect(on).toMatchObject({ ids: [], problem: 'unreachable' });
  expect(on.manual).toMatch(/^amtool silence add --alertmanager\.url=http:\/\/127\.0\.0\.1:\d+ /);
  expect(on.manual).toContain("'environment=staging'");
  expect(on.manual).toContain(`'alertname=~${maintenanceExplains.join('|')}'`);
  expect(on.manual).toContain(`--comment='maintenance by alice: it'\\''s late'`);
  expect(lines.warn.join('\n')).toContain(on.manual);
  expect(on.audit).toContain('NOT created');

  const off = await expireMaintenance({ alertmanagerUrl: closed, env: 'staging', out });
  expect(off).toMatchObject({ ids: [], problem: 'unreachable' });
  const none = await silenceMaintenance({ env: 'dev', operator: 'a', message: 'm', now, endsAt: now, out });
  expect(none.problem).toBe('unconfigured');
});

it('ops maintenance on|off under the operator\'s lock: OPS_LOCK_TOKEN lets the step through (issue 26) and the silence is created and expired (issue 22); without the token it is refused and nothing is silenced', async () => {
  // The CLI in-process (ops/test/helpers), on the local target: the front door's switch is a file, no Redis.
  const stateDir = fs.mkdtempSync(path.join(work, 'state-'));
  const env = { OPS_STATE_DIR: stateDir, OPS_USER: 'oncall', ALERTMANAGER_URL: am!.url };
  try {
    const held = await runOps(['lock', 'acquire', '-m', 'maintenance window', '--ttl', '1h', '--json'], env);
    expect(held.code).toBe(0);
    const { token } = JSON.parse(held.stdout) as { token: string };
    // A colleague (another OPS_USER, no token) is kept out: exit 3, no silence.
    expect((await runOps(['maintenance', 'on', '-m', 'upgrade'], { ...env, OPS_USER: 'colleague' })).code).toBe(3);
    expect(await maintenanceSilences(am!.url, 'local')).toEqual([]);
    // The operator's runbook step from another shell/CI job (different OPS_USER) passes with the token.
    const on = await runOps(['maintenance', 'on', '-m', 'upgrade', '--duration', '30m', '--json'], { ...env, OPS_USER: 'runner', OPS_LOCK_TOKEN: token });
    expect(on.code).toBe(0);
    const silences = await maintenanceSilences(am!.url, 'local');
    expect(silences).toHaveLength(1);
    expect((JSON.parse(on.stdout) as { silence: { ids: string[] } }).silence.ids).toEqual(silences.map((s) => s.id));
    expect((await runOps(['maintenance', 'off'], { ...env, OPS_LOCK_TOKEN: token })).code).toBe(0);
    expect(await maintenanceSilences(am!.url, 'local')).toEqual([]);
  } finally {
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
});

it("finds the environment's Alertmanager: --alertmanager-url, else $ALERTMANAGER_URL, else the stack's switchboard:observability.alertmanagerUrl (local: none)", () => {
  const fromStack = stackSetting('staging', ALERTMANAGER_URL_KEY);
  expect(fromStack).toMatch(/^https?:\/\//);
  expect(alertmanagerUrlOf({}, {}, 'staging')).toBe(fromStack);
  expect(alertmanagerUrlOf({}, { ALERTMANAGER_URL: 'http://env:9093' }, 'staging')).toBe('http://env:9093');
  expect(alertmanagerUrlOf({ 'alertmanager-url': 'http://flag:9093' }, { ALERTMANAGER_URL: 'http://env:9093' }, 'staging')).toBe('http://flag:9093');
  expect(alertmanagerUrlOf({}, {}, 'local')).toBeUndefined();
  // A stack without the key (the local cluster runs no Alertmanager): none, so maintenance warns with the amtool command.
  expect(alertmanagerUrlOf({}, {}, 'local-k8s')).toBeUndefined();
});

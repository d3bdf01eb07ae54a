import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { quotedOpsCommands, shellWords } from '../../runbooks/catalog';
import { runOps } from './helpers';

/**
 * The lock and maintenance steps of the procedures, executed word for word from the markdown in their
 * order, on the local target (no services needed for these steps: the front door's switch is a file,
 * the core's Redis flag is skipped without REDIS_URL). On main the operator's own `ops lock acquire`
 * refused their next step (`ops maintenance on` → exit 3). Placeholders (`<…>`) are filled with text.
 * Steps that need running services (status, backup, restore) run in the e2e tests, not here.
 */
const root = path.join(__dirname, '..', '..');
const stepsOf = (page: string) =>
  quotedOpsCommands(page, fs.readFileSync(path.join(root, 'runbooks', page), 'utf8'))
    .map((q) => shellWords(q.text).slice(1).map((w) => w.replace(/<[^>]*>/g, 'x')))
    .filter((argv) => ['lock', 'maintenance'].includes(argv[0]!) && argv.length > 1);

let dir: string;
beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ops-runbook-')); });
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

test.each(['maintenance-window.md', 'restore-from-backup.md'])('%s: lock and maintenance steps run as written, in order, under the operator\'s own lock', async (page) => {
  const steps = stepsOf(page);
  expect(steps.map((s) => s.slice(0, 2).join(' '))).toEqual(expect.arrayContaining(['lock acquire', 'maintenance on']));
  const env = { OPS_STATE_DIR: dir, OPS_USER: 'oncall' };
  const results = [];
  for (const argv of steps) {
    results.push({ step: `ops ${argv.join(' ')}`, code: (await runOps(argv, env)).code });
    // While the procedure holds the lock, a colleague's changing command is kept out.
    if (argv[0] === 'lock' && argv[1] === 'acquire') results.push({ step: 'colleague: ops maintenance off', code: (await runOps(['maintenance', 'off'], { ...env, OPS_USER: 'colleague' })).code === 3 ? 0 : -1 });
  }
  expect(results).toEqual(results.map((r) => ({ ...r, code: 0 })));
});

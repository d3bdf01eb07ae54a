import { runCli } from '../cli/main';

export interface OpsRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the ops CLI in-process (same dispatcher as ops/bin/ops) with its own environment, capturing output. */
export async function runOps(argv: string[], env: NodeJS.ProcessEnv): Promise<OpsRun> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, { stdout: { write: (c: string) => (stdout += c) }, stderr: { write: (c: string) => (stderr += c) } }, env);
  return { code, stdout, stderr };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

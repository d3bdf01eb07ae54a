import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { kubernetesProviderProvisioned, pulumiHome, pulumiPath, pulumiProvisioned } from '../../services/kube-toolchain';
import { versions } from '../../services/versions';
import type { AutomationStack } from './stack-runner';

/**
 * The infra program run inline (in this process) by the Automation API: where the Pulumi CLI has no
 * Node.js language host (this machine: pulumi-language-nodejs is not served by the module proxy), the
 * engine calls back into `infra/program.ts` — the same function `infra/index.ts` runs under `pulumi up`.
 * Chosen with OPS_PULUMI_INLINE=1 (stack-runner.ts); the state lives in OPS_PULUMI_BACKEND_URL (a
 * file:// backend), the CLI and the Kubernetes provider are the provisioned ones (PULUMI_HOME in our
 * cache). The workspace directory is a temporary one, so stack init never writes into infra/.
 */
export async function selectInlineStack(stack: string, _workDir: string, env: NodeJS.ProcessEnv = process.env): Promise<AutomationStack> {
  const backend = env.OPS_PULUMI_BACKEND_URL;
  if (!backend) throw new Error('OPS_PULUMI_INLINE=1 needs OPS_PULUMI_BACKEND_URL (e.g. file:///tmp/switchboard-pulumi-state)');
  if (!pulumiProvisioned() || !kubernetesProviderProvisioned()) throw new Error(`pulumi ${versions.pulumi} or its Kubernetes provider ${versions.pulumiKubernetes} is not provisioned: npm run services -- provision`);
  if (backend.startsWith('file://')) fs.mkdirSync(backend.slice('file://'.length), { recursive: true });
  const { automation: auto } = require('@pulumi/pulumi') as typeof import('@pulumi/pulumi');
  const pulumiCommand = await auto.PulumiCommand.get({ root: path.dirname(pulumiPath()), skipVersionCheck: true });
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), `ops-pulumi-inline-${stack}-`));
  const program = async () => {
    const { program: infraProgram } = require('../../../infra/program') as typeof import('../../../infra/program');
    return infraProgram();
  };
  const envVars: Record<string, string> = {
    PULUMI_HOME: pulumiHome(),
    PULUMI_BACKEND_URL: backend,
    PULUMI_CONFIG_PASSPHRASE: env.PULUMI_CONFIG_PASSPHRASE ?? '',
    PULUMI_SKIP_UPDATE_CHECK: 'true',
    PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: 'true',
    // No plugin download: the provider is provisioned in PULUMI_HOME.
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: 'true',
    ...(env.KUBECONFIG ? { KUBECONFIG: env.KUBECONFIG } : {}),
  };
  return auto.LocalWorkspace.createOrSelectStack(
    { stackName: stack, projectName: 'switchboard', program },
    { workDir, pulumiCommand, envVars, projectSettings: { name: 'switchboard', runtime: 'nodejs', backend: { url: backend } } },
  );
}

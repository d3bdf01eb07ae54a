import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type * as pulumiType from '@pulumi/pulumi';
import { OpsError } from '../cli/output';
import { kubernetesProviderProvisioned, pulumiHome, pulumiPath, pulumiProvisioned } from '../services/kube-toolchain';
import { infraDir, IMAGE_KEY, policyPackPath, pulumiRunner, type AutomationStack } from '../targets/kubernetes/stack-runner';

/**
 * The CrossGuard pack in the real engine: the provisioned Pulumi v3.276 CLI runs a preview of an
 * inline program with `policyPacks: [infra/policy/analyzer]` through ops' own runner. No Node.js
 * language host exists here; the engine launches the executable pack itself. The Kubernetes provider
 * renders YAML to a directory (renderYamlToDirectory), so no cluster is needed.
 */
jest.setTimeout(240_000);

const stackName = 'policy-engine';
let tmp: string;
let workDir: string;

beforeAll(() => {
  if (!pulumiProvisioned() || !kubernetesProviderProvisioned()) throw new Error('pulumi v3.276 and its Kubernetes provider are not provisioned: npm run services -- provision');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ops-policy-engine-'));
  // The stack's config file in a directory of its own (the runner reads Pulumi.<stack>.yaml there); the pack is the checkout's.
  workDir = path.join(tmp, 'infra');
  fs.mkdirSync(workDir);
  fs.writeFileSync(path.join(workDir, `Pulumi.${stackName}.yaml`), 'config:\n  switchboard:environment: production\n');
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A small program: a ConfigMap (resource policy k8s-secrets-not-in-configmaps) and a Deployment (stack policy k8s-replicas-in-production). */
function program(bad: boolean) {
  return async () => {
    const k8s = require('@pulumi/kubernetes') as typeof import('@pulumi/kubernetes');
    const provider = new k8s.Provider('render', { renderYamlToDirectory: path.join(tmp, 'rendered') });
    new k8s.core.v1.ConfigMap('core-config', { metadata: { name: 'core-config' }, data: { APP_ENV: 'production', ...(bad ? { MONGODB_URI: 'mongodb://u:p@db/chat' } : {}) } }, { provider });
    if (bad) {
      new k8s.apps.v1.Deployment('core', { metadata: { name: 'core' }, spec: { replicas: 1, selector: { matchLabels: { app: 'core' } }, template: { metadata: { labels: { app: 'core' } }, spec: { containers: [{ name: 'core', image: 'core:1' }] } } } }, { provider });
    }
    return { policyContext: { environment: 'production', longPolling: true, rpoHours: 6 } };
  };
}

async function inlineStack(bad: boolean): Promise<AutomationStack> {
  const { automation: auto } = require('@pulumi/pulumi') as typeof pulumiType;
  const backend = path.join(tmp, 'state');
  fs.mkdirSync(backend, { recursive: true });
  const pulumiCommand = await auto.PulumiCommand.get({ root: path.dirname(pulumiPath()), skipVersionCheck: true });
  const ws = fs.mkdtempSync(path.join(tmp, 'ws-'));
  return auto.LocalWorkspace.createOrSelectStack(
    { stackName, projectName: 'switchboard', program: program(bad) },
    {
      workDir: ws,
      pulumiCommand,
      envVars: { PULUMI_HOME: pulumiHome(), PULUMI_BACKEND_URL: `file://${backend}`, PULUMI_CONFIG_PASSPHRASE: '', PULUMI_SKIP_UPDATE_CHECK: 'true', PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: 'true', PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: 'true' },
      projectSettings: { name: 'switchboard', runtime: 'nodejs', backend: { url: `file://${backend}` } },
    },
  );
}

const preview = async (bad: boolean) => {
  const lines: string[] = [];
  const runner = pulumiRunner(stackName, workDir, () => inlineStack(bad));
  const result = await runner.preview({ image: 'ghcr.io/example/core@sha256:' + 'a'.repeat(64), onOutput: (line) => lines.push(line) }).catch((error: unknown) => error);
  return { result, output: lines.join('') };
};

test('the pack path is the executable analyzer in infra/policy', () => {
  expect(policyPackPath()).toBe(path.join(infraDir, 'policy', 'analyzer'));
  expect(fs.statSync(policyPackPath()).mode & 0o111).not.toBe(0);
  expect(IMAGE_KEY).toBe('switchboard:app.image');
});

test('a compliant program: the engine loads the pack, every policy passes, the preview succeeds', async () => {
  const { result, output } = await preview(false);
  expect(result).toEqual({ changes: expect.any(Array) });
  // The diff display lists the packs that ran (the non-diff display prints "✅ switchboard@v1.0.0").
  expect(output).toMatch(/Policy Packs run:\s+Name\s+Version\s+switchboard\|local\|\S*policy\/analyzer\s+1\.0\.0/);
  expect(output).not.toMatch(/\[mandatory\]|\[advisory\]/);
});

test('mandatory violations: the engine fails the preview and ops refuses with each policy, the resource and the fix', async () => {
  const { result, output } = await preview(true);
  // The engine's own report (a resource policy and a stack policy of the pack).
  expect(output).toMatch(/switchboard@v1\.0\.0 \[mandatory\]\s+k8s-secrets-not-in-configmaps\s+\(kubernetes:core\/v1:ConfigMap: core-config\)/);
  expect(output).toMatch(/switchboard@v1\.0\.0 \[mandatory\]\s+k8s-replicas-in-production\s+\(kubernetes:apps\/v1:Deployment: core\)/);
  expect(result).toBeInstanceOf(OpsError);
  const refusal = result as OpsError;
  expect(refusal.message).toContain(`the policy pack refused the preview of ${stackName}`);
  expect(refusal.message).toContain('✗ policy k8s-secrets-not-in-configmaps (mandatory): kubernetes:core/v1:ConfigMap core-config: core-config: MONGODB_URI belongs in a Secret');
  expect(refusal.message).toContain('fix: Secret environment variables only ever live in Secrets.');
  expect(refusal.message).toContain('✗ policy k8s-replicas-in-production (mandatory): kubernetes:apps/v1:Deployment core: core: fewer than 2 replicas');
  expect(refusal.message).toContain('fix: In production, Deployments run at least 2 replicas and HPAs keep at least 3.');
  expect(refusal.next).toContain(`pulumi preview --stack ${stackName} --policy-pack policy/analyzer`);
});

test('the directory form: the runner the Node.js language host starts for a nodejs pack serves it (its gRPC port on stdout)', async () => {
  // No language host here: this is the command it runs for `--policy-pack infra/policy` (run-policy-pack with
  // the engine address and the pack directory, from the pack directory), type-checking with ts-node.
  const packDir = path.join(infraDir, 'policy');
  const runner = require.resolve('@pulumi/pulumi/cmd/run-policy-pack/index.js');
  const child = spawn(process.execPath, [runner, '127.0.0.1:1', '.'], { cwd: packDir, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
  try {
    const port = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk;
        const line = stdout.split('\n')[0]!;
        if (stdout.includes('\n')) resolve(line.trim());
      });
      child.on('exit', (code) => reject(new Error(`run-policy-pack exited ${code}: ${stderr}`)));
    });
    expect(port).toMatch(/^\d+$/);
  } finally {
    child.kill('SIGTERM');
  }
}, 180_000);

import fs from 'node:fs';
import type { automation } from '@pulumi/pulumi';
import { $ } from 'zx';
import { repoRoot } from '../services/paths';
import { OpsError } from '../cli/output';
import { IMAGE_KEY, infraDir, policyPackPath, pulumiRunner, readStackConfig, stackConfigPath, type AutomationStack } from '../targets/kubernetes/stack-runner';
import { imageOf } from './fake-stack';

/**
 * The real runner (Automation API calls, the temporary config file) against a recording stand-in for
 * the Automation API's Stack: what `preview`/`up` receive, and engine events in the documented shape.
 */
type PreviewOptions = automation.PreviewOptions;
type UpOptions = automation.UpOptions;

function recordingStack(options: { hang?: boolean } = {}) {
  const seen: { call: string; configFile?: string; image?: string; diff?: boolean; policyPacks?: string[] }[] = [];
  const stack = {
    async preview(opts?: PreviewOptions) {
      const image = readStackConfig(opts!.configFile!, IMAGE_KEY);
      seen.push({ call: 'preview', configFile: opts!.configFile, image, diff: opts!.diff, policyPacks: opts!.policyPacks });
      const event = (op: string, type: string, name: string, detailedDiff?: Record<string, { kind: 'update'; inputDiff: boolean }>) => opts!.onEvent!({
        sequence: 1, timestamp: 0,
        resourcePreEvent: { metadata: { op, urn: `urn:pulumi:production::switchboard::${type}::${name}`, type, provider: '', ...(detailedDiff ? { detailedDiff, diffs: Object.keys(detailedDiff).map((k) => k.split('.')[0]!) } : {}) } },
      } as never);
      event('same', 'pulumi:pulumi:Stack', 'switchboard-production');
      event('update', 'kubernetes:apps/v1:Deployment', 'switchboard-core', { 'spec.template.spec.containers[0].image': { kind: 'update', inputDiff: true } });
      return { stdout: '', stderr: '', changeSummary: { update: 1, same: 1 } };
    },
    async up(opts?: UpOptions) {
      seen.push({ call: 'up', configFile: opts!.configFile, image: readStackConfig(opts!.configFile!, IMAGE_KEY), policyPacks: opts!.policyPacks });
      if (options.hang) {
        // The Automation API sends SIGINT to the CLI on abort; the CLI then exits non-zero and up() rejects.
        await new Promise<void>((resolve) => (opts!.signal!.aborted ? resolve() : opts!.signal!.addEventListener('abort', () => resolve(), { once: true })));
        throw new Error('code: 255\n stderr: error: update canceled');
      }
      return { stdout: '', stderr: '', summary: { result: 'succeeded' }, outputs: { appHost: { value: 'chat.example.test', secret: false } } };
    },
    async outputs() {
      return { appHost: { value: 'chat.example.test', secret: false } };
    },
    async cancel() {
      seen.push({ call: 'cancel' });
    },
  } as unknown as AutomationStack; // only the fields the runner reads (the full UpResult has more)
  return { stack, seen };
}

test('preview and up get the image in a temporary --config-file outside the checkout; nothing tracked changes', async () => {
  const committed = fs.readFileSync(stackConfigPath('production'), 'utf8');
  const { stack, seen } = recordingStack();
  const runner = pulumiRunner('production', infraDir, async () => stack);
  const image = imageOf('sha-9');
  const { changes } = await runner.preview({ image, onOutput: () => undefined });
  expect(changes).toEqual([{ urn: 'urn:pulumi:production::switchboard::kubernetes:apps/v1:Deployment::switchboard-core', type: 'kubernetes:apps/v1:Deployment', op: 'update', paths: ['spec.template.spec.containers[0].image'] }]);
  expect(await runner.up({ image, onOutput: () => undefined })).toEqual({ result: 'succeeded', outputs: { appHost: 'chat.example.test' } });
  expect(seen.map((s) => `${s.call}:${s.image}`)).toEqual([`preview:${image}`, `up:${image}`]);
  expect(seen[0]!.diff).toBe(true);
  // Both run the CrossGuard pack (infra/policy) in the engine.
  expect(seen.map((s) => s.policyPacks)).toEqual([[policyPackPath()], [policyPackPath()]]);
  for (const { configFile } of seen) {
    expect(configFile!.startsWith(repoRoot)).toBe(false);
    expect(fs.existsSync(configFile!)).toBe(false); // removed after the operation
  }
  expect(fs.readFileSync(stackConfigPath('production'), 'utf8')).toBe(committed);
  expect(readStackConfig(stackConfigPath('production'), IMAGE_KEY)).not.toBe(image);
  const status = await $({ cwd: repoRoot, quiet: true })`git status --porcelain -- infra`;
  expect(status.stdout).toBe('');
});

test('an aborted up reports "cancelled" (not a failure to roll back from)', async () => {
  const { stack, seen } = recordingStack({ hang: true });
  const runner = pulumiRunner('production', infraDir, async () => stack);
  const controller = new AbortController();
  const running = runner.up({ image: imageOf('sha-9'), onOutput: () => undefined, signal: controller.signal });
  controller.abort();
  expect(await running).toEqual({ result: 'cancelled', outputs: {} });
  // Then `pulumi cancel` removes the lock the interrupted update left on the stack (seen with the real engine).
  expect(seen.map((s) => s.call)).toEqual(['up', 'cancel']);
});

test('a stack that cannot be opened says how to get the Pulumi CLI, and config reads fail loudly', async () => {
  const runner = pulumiRunner('production', infraDir, async () => { throw new Error('pulumi: command not found'); });
  await expect(runner.outputs()).rejects.toThrow(/could not open Pulumi stack "production".*pulumi: command not found.*Install the Pulumi CLI/);
  await expect(pulumiRunner('no-such-stack').readConfig(IMAGE_KEY)).rejects.toThrow(/cannot read the stack config .*Pulumi\.no-such-stack\.yaml/);
});

/** A stand-in whose preview reports policy events (the engine's documented `policyEvent` shape) and then fails as the engine does. */
function policyStack(events: { policyName: string; enforcementLevel: 'mandatory' | 'warning'; resourceUrn?: string; message: string }[]) {
  return {
    async preview(opts?: PreviewOptions) {
      for (const p of events) opts!.onEvent!({ sequence: 1, timestamp: 0, policyEvent: { ...p, color: 'never', policyPackName: 'switchboard', policyPackVersion: '1.0.0', policyPackVersionTag: '1.0.0' } } as never);
      throw new Error('code: 255\n stderr: error: preview failed');
    },
  } as unknown as AutomationStack;
}

test('a mandatory policy violation in the preview becomes a refusal naming the policy, the resource and the fix', async () => {
  const runner = pulumiRunner('production', infraDir, async () =>
    policyStack([
      { policyName: 'redis-snapshots', enforcementLevel: 'mandatory', resourceUrn: 'urn:pulumi:production::switchboard::switchboard:infra:RedisCache$aws:elasticache/replicationGroup:ReplicationGroup::redis', message: 'Replication groups keep automatic snapshots.\nredis: automatic snapshots are off' },
      { policyName: 'k8s-hpa-seed-targets', enforcementLevel: 'warning', message: 'HPAs scale on CPU at 70 % and memory at 80 % utilisation.\napp: targets are not CPU 70 % / memory 80 %' },
    ]),
  );
  const refusal = await runner.preview({ image: imageOf('sha-9'), onOutput: () => undefined }).catch((error: unknown) => error);
  expect(refusal).toBeInstanceOf(OpsError);
  expect((refusal as OpsError).message).toBe(
    'the policy pack refused the preview of production: 1 mandatory violation(s), nothing was applied\n' +
      '  ✗ policy redis-snapshots (mandatory): aws:elasticache/replicationGroup:ReplicationGroup redis: redis: automatic snapshots are off\n' +
      '    fix: Replication groups keep automatic snapshots.',
  );
  expect((refusal as OpsError).next).toContain('pulumi preview --stack production --policy-pack policy/analyzer');
});

test('advisory policy events alone do not turn another failure into a policy refusal', async () => {
  const runner = pulumiRunner('production', infraDir, async () => policyStack([{ policyName: 'k8s-hpa-seed-targets', enforcementLevel: 'warning', message: 'HPAs scale on CPU at 70 %.\napp: targets' }]));
  await expect(runner.preview({ image: imageOf('sha-9'), onOutput: () => undefined })).rejects.toThrow('preview failed');
});

test('a failed preview records the engine\'s own error lines, not "code: 255" (the Automation API\'s first line)', async () => {
  // The Automation API's own error types, as its CLI wrapper builds them (errors.js / cmd.js).
  const { CommandError } = require('@pulumi/pulumi/automation/errors') as { CommandError: new (result: unknown) => Error };
  const { CommandResult } = require('@pulumi/pulumi/automation/cmd') as { CommandResult: new (stdout: string, stderr: string, code: number) => unknown };
  // The engine's diagnostics block, as `pulumi preview` prints it.
  const stdout = 'Previewing update (production):\n\nDiagnostics:\n  kubernetes:core/v1:Secret (switchboard-env):\n    error: configured Kubernetes cluster is unreachable: unable to load kubeconfig\n';
  const stderr = 'error: preview failed\n';
  const failing = { async preview() { throw new CommandError(new CommandResult(stdout, stderr, 255)); } } as unknown as AutomationStack;
  const failure = (await pulumiRunner('production', infraDir, async () => failing).preview({ image: imageOf('sha-9'), onOutput: () => undefined }).catch((error: unknown) => error)) as Error;
  expect(failure.message.split('\n')[0]).toBe('pulumi preview failed: error: configured Kubernetes cluster is unreachable: unable to load kubeconfig');
  expect(failure.message).toContain('code: 255'); // the full output follows
});

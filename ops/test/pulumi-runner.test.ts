import fs from 'node:fs';
import type { automation } from '@pulumi/pulumi';
import { $ } from 'zx';
import { repoRoot } from '../services/paths';
import { IMAGE_KEY, infraDir, pulumiRunner, readStackConfig, stackConfigPath, type AutomationStack } from '../targets/kubernetes/stack-runner';
import { imageOf } from './fake-stack';

/**
 * The real runner (Automation API calls, the temporary config file) against a recording stand-in for
 * the Automation API's Stack: what `preview`/`up` receive, and engine events in the documented shape.
 */
type PreviewOptions = automation.PreviewOptions;
type UpOptions = automation.UpOptions;

function recordingStack(options: { hang?: boolean } = {}) {
  const seen: { call: string; configFile?: string; image?: string; diff?: boolean }[] = [];
  const stack = {
    async preview(opts?: PreviewOptions) {
      const image = readStackConfig(opts!.configFile!, IMAGE_KEY);
      seen.push({ call: 'preview', configFile: opts!.configFile, image, diff: opts!.diff });
      const event = (op: string, type: string, name: string, detailedDiff?: Record<string, { kind: 'update'; inputDiff: boolean }>) => opts!.onEvent!({
        sequence: 1, timestamp: 0,
        resourcePreEvent: { metadata: { op, urn: `urn:pulumi:production::switchboard::${type}::${name}`, type, provider: '', ...(detailedDiff ? { detailedDiff, diffs: Object.keys(detailedDiff).map((k) => k.split('.')[0]!) } : {}) } },
      } as never);
      event('same', 'pulumi:pulumi:Stack', 'switchboard-production');
      event('update', 'kubernetes:apps/v1:Deployment', 'switchboard-core', { 'spec.template.spec.containers[0].image': { kind: 'update', inputDiff: true } });
      return { stdout: '', stderr: '', changeSummary: { update: 1, same: 1 } };
    },
    async up(opts?: UpOptions) {
      seen.push({ call: 'up', configFile: opts!.configFile, image: readStackConfig(opts!.configFile!, IMAGE_KEY) });
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

import path from 'node:path';
import { repoRoot } from '../../services/paths';

/**
 * What the Kubernetes target needs from Pulumi: the Automation API's Stack, narrowed to the calls we
 * make, so tests inject a recorded fake and the CLI injects the real LocalWorkspace stack.
 */
export interface StackRunner {
  readonly stack: string;
  /** Keys like `switchboard:app.image` are config paths (pulumi config set --path). */
  getConfig(key: string): Promise<string | undefined>;
  setConfig(key: string, value: string): Promise<void>;
  /** `pulumi up`: applies the program; Pulumi's Kubernetes provider waits for the Deployment rollout. */
  up(onOutput: (line: string) => void): Promise<{ result: 'succeeded' | 'failed'; outputs: Record<string, unknown> }>;
  outputs(): Promise<Record<string, unknown>>;
}

/**
 * The infra/ program's contract: the core's image is the config path `switchboard:app.image` (an image
 * reference, by digest in production: infra/src/config.ts) and the public host is the `appHost` output.
 */
export const IMAGE_KEY = 'switchboard:app.image';
export const HOST_OUTPUT = 'appHost';

/**
 * The version the core reports in /health for an image (RELEASE_VERSION): the first 12 hex digits of
 * the digest, or the tag. Mirrors imageVersion() in infra/src/k8s/app-manifests.ts (which loads Pulumi,
 * ~8 s); ops/test/kubernetes-target.test.ts checks that both agree.
 */
export function imageVersion(image: string): string {
  const digest = image.split('@')[1];
  if (digest) return digest.replace('sha256:', '').slice(0, 12);
  const lastSegment = image.split('/').pop() ?? image;
  return lastSegment.includes(':') ? (lastSegment.split(':').pop() ?? 'unknown') : 'latest';
}

/** `--version` may be a full image reference, a digest (sha256:...) or a tag of the current image's repository. */
export function resolveImage(version: string, current: string | undefined): string {
  if (version.includes('/')) return version;
  const repository = current?.split('@')[0]?.replace(/:[^:/]+$/, '');
  if (!repository) throw new Error(`cannot resolve "${version}": the stack has no current image; pass a full image reference`);
  return version.startsWith('sha256:') ? `${repository}@${version}` : `${repository}:${version}`;
}
export const infraDir = path.join(repoRoot, 'infra');

/** The real runner: Pulumi Automation API on the program in infra/ (needs the Pulumi CLI and cluster credentials). */
export function pulumiRunner(stack: string, workDir = infraDir): StackRunner {
  type AutoStack = import('@pulumi/pulumi').automation.Stack;
  let selected: Promise<AutoStack> | undefined;
  const select = () => {
    selected ??= (async () => {
      try {
        const { automation: auto } = require('@pulumi/pulumi') as typeof import('@pulumi/pulumi');
        return await auto.LocalWorkspace.selectStack({ stackName: stack, workDir });
      } catch (error) {
        throw new Error(`could not open Pulumi stack "${stack}" in ${workDir}: ${(error as Error).message}. Install the Pulumi CLI and log in (pulumi login), or use --dry-run to see the plan.`, { cause: error });
      }
    })();
    return selected;
  };
  const isPath = (key: string) => key.slice(key.indexOf(':') + 1).includes('.');
  const plain = (outputs: Record<string, { value: unknown }>) => Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, v.value]));
  return {
    stack,
    async getConfig(key) {
      try {
        return (await (await select()).getConfig(key, isPath(key))).value;
      } catch {
        return undefined;
      }
    },
    async setConfig(key, value) {
      await (await select()).setConfig(key, { value }, isPath(key));
    },
    async up(onOutput) {
      const result = await (await select()).up({ onOutput });
      return { result: result.summary.result === 'succeeded' ? 'succeeded' : 'failed', outputs: plain(result.outputs) };
    },
    async outputs() {
      return plain(await (await select()).outputs());
    },
  };
}

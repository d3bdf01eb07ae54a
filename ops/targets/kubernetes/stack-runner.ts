import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { OpsError } from '../../cli/output';
import { MissingCommandError, requireCommand, run as runCommand } from '../../process';
import { infraDir, loadStackConfig, readStackConfig, readStackValue, splitKey, stackConfigPath } from './stack-file';
import type { ReleaseConfig } from '../../state/releases';
import { stackSettingOf, yamlValue } from './stack-config';

/** One resource the preview would change, with the property paths that differ. */
export interface ResourceChange {
  urn: string;
  type: string;
  /** Pulumi's step op: same, update, create, delete, replace, create-replacement, ... */
  op: string;
  /** Property paths from the detailed diff, e.g. `spec.template.spec.containers[0].image`. */
  paths: string[];
}

/** One `preview`/`up` with the image to run: supplied for this operation only, never written to the checkout. */
export interface StackRun {
  image: string;
  /** The release's settings (ops config), written into the same temporary config file: part of the desired state, not drift. */
  config?: ReleaseConfig;
  onOutput: (line: string) => void;
  /** Aborting it cancels the Pulumi operation (SIGINT to the engine: it finishes in-flight steps and stops). */
  signal?: AbortSignal;
}

/**
 * What the Kubernetes target needs from Pulumi: the Automation API's Stack, narrowed to the calls we
 * make, so tests inject a recorded fake and the CLI injects the real LocalWorkspace stack.
 */
export interface StackRunner {
  readonly stack: string;
  /** A key of the stack's committed config (e.g. `switchboard:app.image`); undefined when unset, an error when unreadable. */
  readConfig(key: string): Promise<string | undefined>;
  /**
   * `pulumi preview --diff --refresh` with `run.image`: every resource that would change. The refresh
   * reads the live objects first, so a change made behind Pulumi's back (kubectl edit) shows as drift:
   * without it the preview compares the program with the state file only (seen against a real cluster, issue 25).
   */
  preview(run: StackRun): Promise<{ changes: ResourceChange[] }>;
  /** `pulumi up` with `run.image`: Pulumi's Kubernetes provider waits for the Deployment rollout. */
  up(run: StackRun): Promise<{ result: 'succeeded' | 'failed' | 'cancelled'; outputs: Record<string, unknown> }>;
  outputs(): Promise<Record<string, unknown>>;
  /** Encrypts a secret with the stack's secrets provider (`pulumi config set --secret`): the ciphertext, never the value, is recorded. */
  encryptSecret(key: string, value: string): Promise<string>;
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

/** The repository of an image reference: `ghcr.io/x/y:tag` and `ghcr.io/x/y@sha256:…` → `ghcr.io/x/y`. */
export const repositoryOf = (image: string): string => image.split('@')[0]!.replace(/:[^:/]+$/, '');

/**
 * What `--version` names: a digest (`sha256:…`), a tag of the current image's repository, or a full
 * reference (`repo@sha256:…` or `repo:tag`). Tags still need resolving to a digest (registry-client.ts).
 */
export function parseVersion(version: string, current: string | undefined): { repository: string; digest?: string; tag?: string } {
  if (version.includes('/')) {
    const [name, digest] = version.split('@');
    if (digest) return { repository: name!, digest };
    const repository = repositoryOf(version);
    return { repository, tag: version.length > repository.length ? version.slice(repository.length + 1) : 'latest' };
  }
  if (!current) throw new Error(`cannot resolve "${version}": the stack has no current image; pass a full image reference`);
  return version.startsWith('sha256:') ? { repository: repositoryOf(current), digest: version } : { repository: repositoryOf(current), tag: version };
}

export { infraDir, readStackConfig, readStackValue, stackConfigPath } from './stack-file';

/**
 * A copy of the stack's config with the image set, in a temporary directory outside the checkout, for
 * `--config-file`: the committed `Pulumi.<stack>.yaml` is never written (its encrypted secrets and
 * every other key come along unchanged). Returns the file and a cleanup function.
 */
export function configFileWithImage(stack: string, image: string, workDir = infraDir, config: ReleaseConfig = {}): { file: string; remove(): void } {
  const doc = loadStackConfig(stackConfigPath(stack, workDir));
  doc.setIn(['config', ...splitKey(IMAGE_KEY)], image);
  for (const [name, entry] of Object.entries(config)) {
    const setting = stackSettingOf(name);
    if ('unset' in entry) doc.deleteIn(['config', ...splitKey(setting.key)]);
    else doc.setIn(['config', ...splitKey(setting.key)], doc.createNode(yamlValue(setting, entry)));
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `ops-pulumi-${stack}-`));
  const file = path.join(dir, `Pulumi.${stack}.yaml`);
  fs.writeFileSync(file, doc.toString(), { mode: 0o600 });
  return { file, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/**
 * The CrossGuard pack (infra/policy) as the executable analyzer Pulumi v3.276 launches itself (no
 * Node.js language host needed): every preview and up of a stack runs it, and a mandatory violation
 * fails the operation before anything changes. Always the checkout's pack, whatever directory holds
 * the stack's config file.
 */
export const policyPackPath = () => path.join(infraDir, 'policy', 'analyzer');

/** One violation the engine reported (a `policyEvent`). */
export interface PolicyFinding {
  policy: string;
  /** The engine says `mandatory`, or `warning`/`advisory` for an advisory policy. */
  enforcementLevel: string;
  urn?: string;
  /** The policy's description (what it requires: the fix) and the violation, as the pack reported them. */
  message: string;
}

const resourceOfUrn = (urn: string) => {
  const parts = urn.split('::');
  return parts.length >= 4 ? `${parts[parts.length - 2]!.split('$').pop()} ${parts[parts.length - 1]}` : urn;
};

/** The refusal for mandatory violations: each policy, the resource and the fix (the policy's requirement). */
export function policyRefusal(stack: string, findings: PolicyFinding[], operation: string): OpsError {
  const lines = findings.map((f) => {
    const [requirement = '', ...details] = f.message.split('\n').map((l) => l.trim()).filter(Boolean);
    const what = details.length ? details.join('; ') : requirement;
    return `  ✗ policy ${f.policy} (${f.enforcementLevel}): ${f.urn ? resourceOfUrn(f.urn) : 'the stack'}: ${what}\n    fix: ${requirement}`;
  });
  return new OpsError(
    `the policy pack refused ${operation} of ${stack}: ${findings.length} mandatory violation(s), nothing was applied\n${lines.join('\n')}`,
    `fix the program or the stack config (infra/policy/*.ts says what each policy checks), then check it: cd infra && pulumi preview --stack ${stack} --policy-pack policy/analyzer`,
    1,
  );
}

/**
 * The Automation API's CommandError reads "code: 255\n stdout: …": its first line, which is what a release
 * records as the reason, says nothing. Put the engine's own diagnostics (its "error:" lines and the
 * provider's "* …" details, e.g. a Deployment that timed out waiting to be Ready) first; the full output follows.
 */
export function engineFailure(operation: string, error: unknown): Error {
  const result = (error as { commandResult?: { stdout?: string; stderr?: string } }).commandResult;
  if (!result) return error as Error;
  const lines = `${result.stdout ?? ''}\n${result.stderr ?? ''}`.split('\n').map((line) => line.trim());
  const details = [...new Set(lines.filter((line) => /^(error: |\* )/.test(line) && !/^error: (update|preview) failed$/.test(line)).map((line) => line.replace(/^\* /, '')))];
  if (!details.length) return error as Error;
  return new Error(`${operation} failed: ${details.slice(0, 6).join('; ')}\n${(error as Error).message}`, { cause: error });
}

type AutoStack = import('@pulumi/pulumi').automation.Stack;
type EngineEvent = import('@pulumi/pulumi').automation.EngineEvent;
/** The part of the Automation API's Stack the runner calls (tests pass a recording double). */
export type AutomationStack = Pick<AutoStack, 'preview' | 'up' | 'outputs'> & Partial<Pick<AutoStack, 'cancel'>>;

const selectLocalStack = async (stack: string, workDir: string): Promise<AutomationStack> => {
  // OPS_PULUMI_INLINE=1: the engine runs infra/program.ts in this process (the local Kubernetes stack) with
  // the provisioned pulumi CLI from our cache (inline-program.ts checks it), not one on PATH.
  if (process.env.OPS_PULUMI_INLINE === '1') return (require('./inline-program') as typeof import('./inline-program')).selectInlineStack(stack, workDir);
  // The Automation API spawns the pulumi CLI: missing, it fails with a bare "code: -2". Name it instead.
  requireCommand('pulumi');
  const { automation: auto } = require('@pulumi/pulumi') as typeof import('@pulumi/pulumi');
  return auto.LocalWorkspace.selectStack({ stackName: stack, workDir });
};

/** The real runner: Pulumi Automation API on the program in infra/ (needs the Pulumi CLI and cluster credentials). */
export function pulumiRunner(stack: string, workDir = infraDir, selectStack: (stack: string, workDir: string) => Promise<AutomationStack> = selectLocalStack): StackRunner {
  let selected: Promise<AutomationStack> | undefined;
  const select = () => {
    selected ??= (async () => {
      try {
        return await selectStack(stack, workDir);
      } catch (error) {
        if (error instanceof MissingCommandError) throw error;
        throw new Error(`could not open Pulumi stack "${stack}" in ${workDir}: ${(error as Error).message}. Install the Pulumi CLI and log in (pulumi login), or use --dry-run to see the plan.`, { cause: error });
      }
    })();
    return selected;
  };
  const plain = (outputs: Record<string, { value: unknown }>) => Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, v.value]));
  /** Runs a preview/up with the policy pack; mandatory policy events turn its failure into a refusal that names them. */
  const withPolicies = async <T>(operation: string, fn: (policy: { policyPacks: string[]; onEvent(event: EngineEvent): void }) => Promise<T>): Promise<T> => {
    const findings: PolicyFinding[] = [];
    const onEvent = (event: EngineEvent) => {
      const p = event.policyEvent;
      if (p) findings.push({ policy: p.policyName, enforcementLevel: p.enforcementLevel, ...(p.resourceUrn ? { urn: p.resourceUrn } : {}), message: p.message });
    };
    try {
      return await fn({ policyPacks: [policyPackPath()], onEvent });
    } catch (error) {
      const mandatory = findings.filter((f) => f.enforcementLevel === 'mandatory');
      if (mandatory.length) throw policyRefusal(stack, mandatory, operation);
      throw error;
    }
  };
  const withConfig = async <T>(run: StackRun, fn: (configFile: string) => Promise<T>): Promise<T> => {
    const config = configFileWithImage(stack, run.image, workDir, run.config);
    try {
      return await fn(config.file);
    } finally {
      config.remove();
    }
  };
  return {
    stack,
    async readConfig(key) {
      return readStackConfig(stackConfigPath(stack, workDir), key);
    },
    async preview(run) {
      const changes: ResourceChange[] = [];
      const onEvent = (event: EngineEvent) => {
        const m = event.resourcePreEvent?.metadata;
        if (m && m.op !== 'same') changes.push({ urn: m.urn, type: m.type, op: m.op, paths: Object.keys(m.detailedDiff ?? {}).concat(m.detailedDiff ? [] : (m.diffs ?? [])) });
      };
      try {
        await withPolicies('the preview', (policy) =>
          withConfig(run, async (configFile) =>
            (await select()).preview({ diff: true, refresh: true, configFile, onOutput: run.onOutput, policyPacks: policy.policyPacks, onEvent: (event) => (policy.onEvent(event), onEvent(event)), signal: run.signal }),
          ),
        );
      } catch (error) {
        // A policy refusal already names its cause; anything else from the engine would be recorded as
        // "code: 255" (the Automation API's first line) unless its own error lines go first.
        if (error instanceof OpsError || run.signal?.aborted) throw error;
        throw engineFailure('pulumi preview', error);
      }
      return { changes };
    },
    async up(run) {
      try {
        const result = await withPolicies('the update', (policy) =>
          withConfig(run, async (configFile) => (await select()).up({ refresh: true, configFile, onOutput: run.onOutput, policyPacks: policy.policyPacks, onEvent: policy.onEvent, signal: run.signal })),
        );
        return { result: result.summary.result === 'succeeded' ? 'succeeded' : 'failed', outputs: plain(result.outputs) };
      } catch (error) {
        if (!run.signal?.aborted) throw engineFailure('pulumi up', error);
        // The engine has exited (the Automation API resolves only then), but against the real engine an
        // update interrupted by SIGINT left its lock on the stack (file backend, issue 25): the next deploy
        // then failed with "the stack is currently locked". No other update can be running (ops' deploy
        // lock is held), so the lock is our own: `pulumi cancel` (Automation API) removes it.
        const engine = await select();
        if (engine.cancel) {
          try {
            await engine.cancel();
            run.onOutput(`pulumi cancel: the interrupted update's lock on the stack ${stack} is removed`);
          } catch (cancelError) {
            run.onOutput(`pulumi cancel: ${(cancelError as Error).message.split('\n').find((line) => line.startsWith('error:')) ?? (cancelError as Error).message.split('\n')[0]} (if the next deploy finds the stack locked: cd infra && pulumi cancel --stack ${stack})`);
          }
        }
        return { result: 'cancelled', outputs: {} };
      }
    },
    async outputs() {
      return plain(await (await select()).outputs());
    },
    async encryptSecret(key, value) {
      // A scratch copy of the stack file (same secrets provider and salt); the value goes in on stdin,
      // never on a command line (ps, shell history). Only the ciphertext is read back.
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), `ops-secret-${stack}-`));
      const file = path.join(dir, `Pulumi.${stack}.yaml`);
      try {
        fs.copyFileSync(stackConfigPath(stack, workDir), file);
        fs.chmodSync(file, 0o600);
        await runCommand('pulumi', ['config', 'set', '--secret', '--path', '--stack', stack, '--config-file', file, key], { cwd: workDir, input: value, next: `pulumi login, and the stack's secrets provider (PULUMI_CONFIG_PASSPHRASE for a passphrase stack), then rerun` });
        const secure = readStackValue(file, key) as { secure?: string } | undefined;
        if (!secure?.secure) throw new Error(`pulumi config set --secret did not write ${key} as a secret`);
        return secure.secure;
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

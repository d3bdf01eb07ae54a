import type { Output, Unknown } from '../cli/output';
import type { ReleaseConfig, ReleaseRecord } from '../state/releases';

export interface DeployRequest {
  /** git ref (local) or image tag (kubernetes); undefined = the working tree / the current image. */
  version?: string;
  strategy: 'bluegreen' | 'rolling';
  /** Core settings baked into the release (--set KEY=VALUE). */
  settings: Record<string, string>;
  instances?: number;
  /** The release serving now, from the environment's (shared) release history: where "current/previous image" come from. */
  current?: ReleaseRecord;
  /** Aborted on Ctrl-C/SIGTERM or when the lock is lost: a `cancellable` target stops cleanly. */
  signal?: AbortSignal;
  /** Kubernetes: apply even when the preview shows changes besides the image (--allow-drift). */
  allowDrift?: boolean;
  /** Kubernetes: the settings of the release being activated (ops config; carried forward by a deploy, the target's for a rollback). */
  config?: ReleaseConfig;
}

export interface InstanceStatus {
  id: string;
  url: string;
  release?: string;
  version?: string;
  healthy: boolean;
  ready: boolean;
  draining?: boolean;
  maintenance?: boolean;
  sockets?: number;
  uptimeSeconds?: number;
  error?: string;
}

export interface MaintenanceStatus {
  on: boolean;
  message?: string;
  retryAfter?: number;
  since?: string;
  /** Where the switch was read: the front door (nginx) and/or the core's Redis flag. */
  frontDoor?: boolean;
  coreFlag?: boolean;
  /** Set when the switch could not be read (no REDIS_URL, Redis unreachable): `on` means nothing then. */
  unknown?: Unknown;
}

export interface StatusReport {
  env: string;
  target: 'local' | 'kubernetes';
  /** Public entry point. */
  url?: string;
  frontDoor: { running: boolean; detail?: string };
  instances: InstanceStatus[];
  maintenance: MaintenanceStatus;
  current?: string;
  healthy: boolean;
  problems: string[];
  /** What could not be determined (no kubectl context, Pulumi missing, a dependency unreachable): printed as unknown, exit 4. */
  unknowns?: Unknown[];
}

/** A failed activation: where it failed, and whether traffic had been switched (and switched back). */
export class ActivationError extends Error {
  constructor(message: string, readonly step: string, readonly switched: boolean, readonly rolledBack: boolean, readonly log?: string) {
    super(message);
  }
}

/**
 * One interface for every target (DESIGN.md, Operations): prepare release → start new version →
 * health gate → switch traffic → drain old → (the command) records.
 */
export interface Target {
  readonly env: string;
  readonly kind: 'local' | 'kubernetes';
  /** Supported --strategy values, the default first. */
  readonly strategies: readonly DeployRequest['strategy'][];
  /** The exact steps a deploy or rollback would run, for --dry-run. */
  plan(action: { kind: 'deploy' | 'rollback'; request: DeployRequest; releaseId: string; artifact?: ReleaseRecord }): Promise<string[]>;
  /** Builds (local) or resolves (kubernetes) the artifact of a new release. */
  prepare(request: DeployRequest, releaseId: string, out: Output): Promise<Pick<ReleaseRecord, 'version' | 'build' | 'image' | 'settings'>>;
  /** Runs a release (its own build, or an earlier one's for a rollback). Throws ActivationError. */
  activate(release: ReleaseRecord, artifact: ReleaseRecord, request: DeployRequest, out: Output): Promise<{ cutoverMs?: number }>;
  status(): Promise<StatusReport>;
  maintenance(): Promise<MaintenanceStatus>;
  setMaintenance(state: { message: string; retryAfter: number; since: string } | undefined, out: Output): Promise<MaintenanceStatus>;
  /**
   * Config as part of a release (stacks): what serves now, for a release that changes only settings;
   * a setting's committed value (secrets as `[secret]`); a secret encrypted by the stack's secrets provider.
   */
  config?: {
    serving(request: DeployRequest): Promise<Pick<ReleaseRecord, 'version' | 'image'>>;
    committed(name: string): Promise<{ key: string; value?: string; secret: boolean }>;
    encrypt(name: string, value: string): Promise<string>;
  };
  /** Removes builds beyond `keep` (never those in `protect`); returns the removed release ids. */
  prune?(keep: number, protect: Set<string>): string[];
  stop?(out: Output): Promise<void>;
  /** Ctrl-C during activate: synchronously undo what is not serving yet (best effort), before the process exits. */
  interrupt?(): void;
  /** activate() watches request.signal and stops cleanly (e.g. cancels `pulumi up`): no immediate exit on Ctrl-C. */
  readonly cancellable?: boolean;
}

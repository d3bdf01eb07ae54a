/**
 * The security context of every Switchboard pod and container (Pod Security Standards "restricted"):
 * the image's non-root user 10001 (ops/build/Dockerfile), read-only root file system, no privilege
 * escalation, no capabilities, RuntimeDefault seccomp.
 */
export const imageUser = 10001;

export const podSecurityContext = { runAsNonRoot: true, runAsUser: imageUser, runAsGroup: imageUser, fsGroup: imageUser, seccompProfile: { type: 'RuntimeDefault' } };

export const containerSecurityContext = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  runAsUser: imageUser,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

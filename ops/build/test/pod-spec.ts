import type { Container, PodSpec } from '../../../infra/src/k8s/pod-env';

/** `podman run` flags for what the pod's security context and volumes say. */
export function podmanSecurityFlags(pod: PodSpec, container: Container): string[] {
  const flags = ['--user', `${container.securityContext.runAsUser ?? pod.securityContext.runAsUser}:${pod.securityContext.runAsGroup}`];
  if (container.securityContext.readOnlyRootFilesystem) flags.push('--read-only');
  if (!container.securityContext.allowPrivilegeEscalation) flags.push('--security-opt', 'no-new-privileges');
  for (const cap of container.securityContext.capabilities.drop) flags.push('--cap-drop', cap);
  for (const mount of container.volumeMounts) {
    const volume = pod.volumes.find((v) => v.name === mount.name);
    if (!volume?.emptyDir) throw new Error(`volume ${mount.name}: only emptyDir is supported here`);
    const size = volume.emptyDir.sizeLimit?.replace(/Mi$/, 'm').replace(/Gi$/, 'g');
    // An emptyDir on a read-only root: a writable tmpfs the container user owns.
    flags.push('--tmpfs', `${mount.mountPath}:rw,mode=1777${size ? `,size=${size}` : ''}`);
  }
  return flags;
}

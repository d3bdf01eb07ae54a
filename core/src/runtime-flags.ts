/**
 * The node flags every production start of the core uses: the image's CMD (ops/build/Dockerfile,
 * checked by ops/build/test/dockerfile-cmd.test.ts), the Kubernetes container command
 * (infra/src/k8s/app-manifests.ts coreCommand), the local target's instances (ops/targets/local)
 * and the load profiles (loadtest/lib/stack.ts), so what is measured is what runs.
 *
 * `--max-semi-space-size=128` (MB): a larger young generation. The core allocates ~130 KB per
 * message (the driver and BSON about half of it); with V8's default young generation a scavenge
 * runs every ~0.4 s at 1,000 msg/s, so per-socket write state that lives about a second (each of
 * 10,000 sockets gets a message per second) survives two scavenges and is promoted: ~8 MB/s into
 * the old generation, a full collection every ~25 s whose marking held the only free core for
 * 150-200 ms (the 10,000-socket p99). With 128 MB a scavenge runs every ~0.75 s, that state dies
 * young, and the measured window has no full collection (loadtest/README.md "The 10,000-socket
 * tail"). The cost: up to ~2 × 128 MB more resident memory under load (infra's pod memory request
 * and limit allow for it). Node accepts this flag in NODE_OPTIONS too.
 */
export const coreNodeFlags: readonly string[] = ['--max-semi-space-size=128'];

/**
 * Every version the local services are built or fetched at, in one place. Builds are cached per
 * version under the cache dir (ops/services/paths.ts), so changing a pin here rebuilds on the next run.
 */
export const versions = {
  /**
   * MinIO server. Its release tags (RELEASE.2025-…) are not semver, so the Go module proxy serves
   * MinIO as pseudo-versions: this one is the commit of 2026-02-12 (`go list -m github.com/minio/minio@latest`
   * on 2026-12-01). `go install github.com/minio/minio@<this>` builds it.
   */
  minio: 'v0.0.0-20260212201848-7aac2a2c5b7c',
  /** Toxiproxy server (fault injection), `go install github.com/Shopify/toxiproxy/v2/cmd/server@<this>`. */
  toxiproxy: 'v2.12.0',
  /** mongo-java-server jars from Maven Central (ops/services/mongo/pom.xml takes it as a property). */
  mongoJavaServer: '1.47.0',
  /**
   * The local Kubernetes cluster (issue 25; recipes in ops/services/kube-toolchain.ts): kube-apiserver,
   * kube-controller-manager, kube-scheduler and kubectl built from k8s.io/kubernetes at this tag (its
   * staging modules are served at v0.<minor>.<patch>).
   */
  kubernetes: 'v1.37.2',
  /** kwok plays the kubelet (pods become Running/Ready without containers): `go install sigs.k8s.io/kwok/cmd/kwok@<this>`. */
  kwok: 'v0.8.0',
  /** Pulumi CLI/engine built from github.com/pulumi/pulumi/pkg/v3 (+ sdk/v3) at this tag. */
  pulumi: 'v3.276.0',
  /**
   * The Kubernetes provider plugin as installed (matches @pulumi/kubernetes in package.json). Its Go module
   * is only served as the pseudo-version below (provider/v4 has no tags on the proxy).
   */
  pulumiKubernetes: '4.34.2',
  pulumiKubernetesModule: 'v4.0.0-20260115033456-f47bc2d6f199',
  /** CRD sources (their upstream definitions in the projects' Go modules). */
  prometheusOperator: 'v0.85.0',
  certManager: 'v1.21.2',
} as const;

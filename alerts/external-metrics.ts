/**
 * Metrics the alerts use that the core does NOT export. The cross-check test scrapes a running
 * core for every other name; these are skipped there, explicitly, with the producer named.
 */
export const externalMetrics = {
  /** Gauge, unix seconds of the last backup that completed. Producer: the `ops backup` job (pushed to the Pushgateway / textfile collector). */
  backupLastSuccess: 'switchboard_backup_last_success_timestamp_seconds',
  /** Gauge, 1 when the last `ops backup verify` restored the newest backup into a scratch database and the counts and SHA-256 matched, else 0. Same producer. */
  backupLastVerifySuccess: 'switchboard_backup_last_verify_success',
  /** Gauge, unix seconds when the TLS certificate expires. Producer: cert-manager's exporter (labels name, namespace). */
  certificateExpiry: 'certmanager_certificate_expiration_timestamp_seconds',
} as const;

/** Series Prometheus itself synthesises for every scrape target (not exported by anyone). */
export const prometheusSyntheticMetrics = ['up'] as const;

export const externalMetricNames: readonly string[] = Object.values(externalMetrics);

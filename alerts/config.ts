/**
 * Every knob of the alerting rules, in one place: the job selector, the 30-day SLO objectives and
 * their latency thresholds, the multi-window burn rates, and each symptom alert's threshold and
 * `for:` duration. Change a number here, run `npm run alerts:generate`, commit the YAML.
 */
export const alertsConfig = {
  /**
   * Prometheus `job` label of the core's scrape target. On Kubernetes the ServiceMonitor
   * (infra/src/k8s/app-manifests.ts) names it after the Service: switchboard-core.
   */
  job: 'switchboard-core',
  /** HTTP routes that are not user traffic (probes, scrapes): left out of the API SLIs. */
  nonApiRoutes: ['/health', '/ready', '/metrics'],
  slo: {
    /** The SLO period every objective is measured over. */
    periodDays: 30,
    /** Share of API requests (not /health, /ready, /metrics) that must not answer 5xx. */
    apiAvailability: { objective: 0.999 },
    /** Share of API requests that must finish within thresholdSeconds (the p95 target); must be a bucket edge. */
    apiLatency: { objective: 0.95, thresholdSeconds: 0.1 },
    /** Share of messages broadcast to their room within thresholdSeconds of the send; must be a bucket edge. */
    messageDelivery: { objective: 0.95, thresholdSeconds: 0.1 },
    /**
     * Multi-window, multi-burn-rate alerts (Google SRE workbook ch. 5): fire when both the long and
     * the short window burn the error budget at least `burnRate` times faster than the period allows.
     */
    burnRateAlerts: [
      { severity: 'page', for: '2m', windows: [{ long: '1h', short: '5m', burnRate: 14.4 }, { long: '6h', short: '30m', burnRate: 6 }] },
      { severity: 'ticket', for: '15m', windows: [{ long: '1d', short: '2h', burnRate: 3 }, { long: '3d', short: '6h', burnRate: 1 }] },
    ],
  },
  symptoms: {
    coreAbsent: { for: '2m' },
    coreInstanceDown: { for: '5m' },
    coreNotReady: { for: '10m' },
    mongodbUnreachable: { for: '1m' },
    redisUnreachable: { for: '2m' },
    eventLoopLag: { p99Seconds: 0.2, for: '10m' },
    /**
     * Fires when RSS would cross limitBytes within horizonHours at the last hour's growth rate.
     * limitBytes = the container memory limit (infra Pulumi.production.yaml app.memoryLimit 768Mi).
     */
    memoryGrowth: { limitBytes: 768 * 1024 * 1024, horizonHours: 4, minShareOfLimit: 0.5, for: '30m' },
    socketDisconnectStorm: {
      /** Disconnects that are planned or client-chosen (deploy drain, user logout) never count. */
      plannedReasons: ['client namespace disconnect', 'server namespace disconnect', 'server shutting down', 'forced close', 'forced server close'],
      minDisconnectsPer5m: 50,
      shareOfConnectionsPer5m: 0.2,
      for: '5m',
    },
    rateLimitSpike: { rejectionsPerSecond: 1, for: '15m' },
    /** Recovery point objective: the newest successful backup must be younger than this. */
    backupRpo: { maxAgeHours: 26, for: '15m' },
    backupVerify: { for: '5m' },
    certificate: { ticketDays: 14, pageDays: 3, for: '1h' },
    /**
     * Scheduled jobs (retention 02:00, conversation-archive 02:30, orphan-uploads 03:00 UTC, daily).
     * Stale: the last successful run is older than maxAgeHours (two missed nights); the `for:` gives
     * the third night's run time to finish before anyone is asked to look.
     */
    jobStale: { maxAgeHours: 48, for: '1h' },
    /** At least minFailures failed (non-skipped) runs of one job within `window`. */
    jobFailing: { window: '1d', minFailures: 1, for: '5m' },
    /**
     * Offline-notification webhook: share of notifications that end failed (gave up / refused) or
     * dropped (queue full, shutdown) among those that ended at all, over `window`, when at least
     * minLostPerWindow were lost (a few lost out of a handful do not page anyone).
     */
    notificationsFailing: { window: '15m', failureRatio: 0.1, minLostPerWindow: 10, for: '15m' },
  },
} as const;

export type AlertsConfig = typeof alertsConfig;
export type Severity = 'page' | 'ticket';

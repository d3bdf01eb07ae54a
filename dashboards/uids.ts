/** Stable dashboard UIDs: alerts' `dashboard` annotations and runbooks link to these. */
export const dashboardUids = {
  overview: 'switchboard-overview',
  runtime: 'switchboard-runtime',
  dependencies: 'switchboard-dependencies',
  operations: 'switchboard-operations',
} as const;

export type DashboardKey = keyof typeof dashboardUids;

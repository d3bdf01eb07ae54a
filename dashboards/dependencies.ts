import { metricNames as m } from '../core/src/telemetry/metric-names';
import { dashboard, ri, sel } from './common';
import { layout, q } from './grafana';
import { dashboardUids } from './uids';

export const dependencies = () =>
  dashboard({
    uid: dashboardUids.dependencies,
    title: 'Switchboard / Dependencies',
    description: 'MongoDB and Redis as each core instance sees them.',
    panels: layout([
      {
        title: 'Reachability',
        panels: [
          { title: 'Dependency up', description: "The core's own ping every 5 s (2 s timeout): 1 up, 0 down.", unit: 'short', min: 0, max: 1, targets: [q(`${m.dependencyUp}{${sel}}`, '{{instance}} {{dependency}}')] },
          { title: 'Ready instances', description: 'Instances whose /ready answered 200 at their last check.', unit: 'short', targets: [q(`sum(${m.ready}{${sel}})`, 'ready')] },
        ],
      },
      {
        title: 'MongoDB',
        panels: [
          { title: 'Operations by command', description: 'MongoDB commands per second.', unit: 'ops', targets: [q(`sum by (command) (rate(${m.mongoOperationDuration}_count{${sel}}${ri}))`, '{{command}}')] },
          { title: 'Failed operations', description: 'MongoDB commands per second that returned an error.', unit: 'ops', targets: [q(`sum by (command) (rate(${m.mongoOperationDuration}_count{${sel},outcome="error"}${ri}))`, '{{command}}')] },
          { title: 'Latency p95 by command', description: 'MongoDB command duration p95.', unit: 's', targets: [q(`histogram_quantile(0.95, sum by (le, command) (rate(${m.mongoOperationDuration}_bucket{${sel}}${ri})))`, '{{command}}')] },
          { title: 'Pool connections checked out', description: 'Driver connections in use per instance (pool size is MONGODB_POOL_SIZE).', unit: 'short', targets: [q(`${m.mongoPoolCheckedOut}{${sel}}`, '{{instance}}')] },
        ],
      },
    ]),
  });

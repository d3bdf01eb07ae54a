import { metricNames as m } from '../core/src/telemetry/metric-names';
import { dashboard, ri, sel } from './common';
import { layout, q } from './grafana';
import { dashboardUids } from './uids';

export const runtime = () =>
  dashboard({
    uid: dashboardUids.runtime,
    title: 'Switchboard / Runtime',
    description: 'Node.js runtime of each core instance: event loop, memory, GC, CPU.',
    panels: layout([
      {
        title: 'Node.js',
        panels: [
          { title: 'Event loop lag p99', description: 'How long a ready callback waits for the event loop. Above 200 ms for 10 minutes pages a ticket.', unit: 's', targets: [q(`nodejs_eventloop_lag_p99_seconds{${sel}}`, '{{instance}}')] },
          { title: 'CPU', description: 'CPU seconds per second (1 = one full core; Node runs JavaScript on one).', unit: 'percentunit', targets: [q(`rate(process_cpu_seconds_total{${sel}}${ri})`, '{{instance}}')] },
          { title: 'Resident memory', description: 'RSS per instance.', unit: 'bytes', targets: [q(`process_resident_memory_bytes{${sel}}`, '{{instance}}')] },
          { title: 'Heap', description: 'V8 heap used and total.', unit: 'bytes', targets: [q(`nodejs_heap_size_used_bytes{${sel}}`, 'used {{instance}}'), q(`nodejs_heap_size_total_bytes{${sel}}`, 'total {{instance}}')] },
          { title: 'GC time', description: 'Seconds per second spent in garbage collection, by kind.', unit: 'percentunit', targets: [q(`sum by (instance, kind) (rate(nodejs_gc_duration_seconds_sum{${sel}}${ri}))`, '{{instance}} {{kind}}')] },
          { title: 'Active handles', description: 'Open sockets, timers and files held by the process.', unit: 'short', targets: [q(`nodejs_active_handles_total{${sel}}`, '{{instance}}')] },
          { title: 'Uptime', description: 'Time since each instance started (a drop = restart or deploy).', unit: 'dtdurations', type: 'stat', width: 24, targets: [q(`time() - process_start_time_seconds{${sel}}`, '{{instance}}')] },
          { title: 'Versions', description: 'Instances per running version (chat_build_info).', unit: 'short', type: 'stat', width: 24, targets: [q(`count by (version) (${m.buildInfo}{${sel}})`, '{{version}}')] },
        ],
      },
    ]),
  });

import { alertsConfig as c } from '../alerts/config';
import { externalMetrics as x } from '../alerts/external-metrics';
import { metricNames as m } from '../core/src/telemetry/metric-names';
import { dashboard, sel } from './common';
import { layout, q } from './grafana';
import { dashboardUids } from './uids';

export const operations = () =>
  dashboard({
    uid: dashboardUids.operations,
    title: 'Switchboard / Operations',
    description: 'Deploys, maintenance, backups and certificates. Deploys and maintenance windows are annotations on every Switchboard dashboard.',
    panels: layout([
      {
        title: 'Releases',
        panels: [
          { title: 'Instances per version', description: 'Which versions run now (from chat_build_info); two versions at once means a deploy is in progress or stuck. Release history: `ops releases`.', unit: 'short', targets: [q(`count by (version) (${m.buildInfo}{${sel}})`, '{{version}}')] },
          { title: 'Maintenance mode', description: '1 while `ops maintenance on` is in effect.', unit: 'short', min: 0, max: 1, targets: [q(`max(${m.maintenanceMode}{${sel}})`, 'maintenance')] },
        ],
      },
      {
        title: 'Backups and TLS',
        panels: [
          {
            title: 'Age of the last successful backup',
            description: `Time since the last successful \`ops backup\`; the RPO is ${c.symptoms.backupRpo.maxAgeHours} h (reported by the backup job, not the core).`,
            unit: 's',
            type: 'stat',
            width: 8,
            targets: [q(`time() - max(${x.backupLastSuccess})`)],
            thresholds: [{ color: 'green', value: null }, { color: 'red', value: c.symptoms.backupRpo.maxAgeHours * 3600 }],
          },
          { title: 'Last backup verification', description: '1 = the newest backup restored into a scratch database and matched its manifest (`ops backup verify`).', unit: 'short', type: 'stat', width: 8, targets: [q(`min(${x.backupLastVerifySuccess})`)], thresholds: [{ color: 'red', value: null }, { color: 'green', value: 1 }] },
          { title: 'TLS certificate expires in', description: "Shortest time to expiry of the service's certificates (cert-manager).", unit: 's', type: 'stat', width: 8, targets: [q(`min(${x.certificateExpiry} - time())`)], thresholds: [{ color: 'red', value: null }, { color: 'orange', value: c.symptoms.certificate.pageDays * 86400 }, { color: 'green', value: c.symptoms.certificate.ticketDays * 86400 }] },
        ],
      },
    ]),
  });

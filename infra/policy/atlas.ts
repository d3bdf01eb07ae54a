import { at, ofType, resourceRule, stackRule, type SwitchboardPolicy } from './support';

/* eslint-disable @typescript-eslint/no-explicit-any -- rules read provider inputs and outputs, which are untyped JSON */

const cluster = 'mongodbatlas:index/advancedCluster:AdvancedCluster';

/** MongoDB Atlas: TLS, backups, PITR, access lists, database users. */
export const atlasPolicies: SwitchboardPolicy[] = [
  resourceRule({
    name: 'atlas-tls-minimum',
    anchor: 'issue 6 (Atlas: minimum TLS 1.2); MongoDB Atlas security checklist',
    description: 'Clusters refuse TLS below 1.2.',
    appliesTo: [cluster],
    check: (c) => (['TLS1_2', 'TLS1_3'].includes(c.props.advancedConfiguration?.minimumEnabledTlsProtocol) ? [] : [`${c.name}: minimum TLS is not 1.2`]),
  }),
  stackRule({
    name: 'atlas-backups',
    anchor: 'issue 6 (Atlas: backups on, schedule matching the RPO); Atlas backup best practices',
    description: 'Clusters have cloud backups on and a schedule with daily snapshots and hourly ones at most RPO hours apart.',
    check: (resources, context) => {
      const schedules = ofType(resources, 'mongodbatlas:index/cloudBackupSchedule:CloudBackupSchedule');
      return ofType(resources, cluster).flatMap((c) => {
        const problems: string[] = [];
        if (c.props.backupEnabled !== true) problems.push(`${c.name}: cloud backups are off`);
        const schedule = schedules.find((s) => s.props.clusterName === c.props.name);
        if (!schedule?.props.policyItemHourly || !schedule.props.policyItemDaily) problems.push(`${c.name}: no hourly and daily backup policy`);
        else if (!(schedule.props.policyItemHourly.frequencyInterval <= context().rpoHours)) {
          problems.push(`${c.name}: snapshots every ${schedule.props.policyItemHourly.frequencyInterval} h exceed the RPO of ${context().rpoHours} h`);
        }
        return problems.map((p) => at(c, p));
      });
    },
  }),
  stackRule({
    name: 'atlas-pitr-and-protection-in-production',
    anchor: 'issue 6 (Atlas: PITR and termination protection in production)',
    description: 'Production clusters have point-in-time recovery and termination protection.',
    check: (resources, context) => {
      const clusters = ofType(resources, cluster);
      if (clusters.length === 0 || context().environment !== 'production') return [];
      return clusters.flatMap((c) => [
        ...(c.props.pitEnabled === true ? [] : [at(c, `${c.name}: point-in-time recovery is off`)]),
        ...(c.props.terminationProtectionEnabled === true ? [] : [at(c, `${c.name}: termination protection is off`)]),
      ]);
    },
  }),
  resourceRule({
    name: 'atlas-no-open-access-list',
    anchor: 'issue 6 (never 0.0.0.0/0); MongoDB Atlas security checklist (IP access list)',
    description: 'No access list entry opens the project to the whole internet.',
    appliesTo: ['mongodbatlas:index/projectIpAccessList:ProjectIpAccessList'],
    check: (e) => (String(e.props.cidrBlock ?? '').endsWith('/0') || e.props.ipAddress === '0.0.0.0' ? [`${e.name}: open to the internet`] : []),
  }),
  resourceRule({
    name: 'atlas-least-privilege-user',
    anchor: 'issue 6 (user scoped to the cluster, no atlasAdmin); Atlas database user best practices',
    description: 'Database users have no admin or any-database roles and are scoped to clusters.',
    appliesTo: ['mongodbatlas:index/databaseUser:DatabaseUser'],
    check: (u) => {
      const forbidden = ['atlasAdmin', 'readWriteAnyDatabase', 'dbAdminAnyDatabase', 'readAnyDatabase', 'clusterAdmin', 'dbAdmin', 'root'];
      return [
        ...(u.props.roles ?? []).filter((r: any) => forbidden.includes(r.roleName) || r.databaseName === 'admin').map((r: any) => `${u.name}: role ${r.roleName}@${r.databaseName} is too broad`),
        ...((u.props.scopes ?? []).some((s: any) => s.type === 'CLUSTER') ? [] : [`${u.name}: not scoped to a cluster`]),
      ];
    },
  }),
];

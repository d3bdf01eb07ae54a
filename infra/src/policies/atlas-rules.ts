import { ofType, type PolicyRule } from './policy';

/* eslint-disable @typescript-eslint/no-explicit-any -- rules read provider inputs, which are untyped JSON */

/** MongoDB Atlas: TLS, backups, PITR, access lists, database users. */
export const atlasRules: PolicyRule[] = [
  {
    name: 'atlas-tls-minimum',
    anchor: 'issue 6 (Atlas: minimum TLS 1.2); MongoDB Atlas security checklist',
    description: 'Clusters refuse TLS below 1.2.',
    check: (resources) =>
      ofType(resources, 'mongodbatlas:index/advancedCluster:AdvancedCluster')
        .filter((c) => !['TLS1_2', 'TLS1_3'].includes(c.inputs.advancedConfiguration?.minimumEnabledTlsProtocol))
        .map((c) => `${c.name}: minimum TLS is not 1.2`),
  },
  {
    name: 'atlas-backups',
    anchor: 'issue 6 (Atlas: backups on, schedule matching the RPO); Atlas backup best practices',
    description: 'Clusters have cloud backups on and a schedule with daily snapshots and hourly ones at most RPO hours apart.',
    check: (resources, context) => {
      const schedules = ofType(resources, 'mongodbatlas:index/cloudBackupSchedule:CloudBackupSchedule');
      return ofType(resources, 'mongodbatlas:index/advancedCluster:AdvancedCluster').flatMap((c) => {
        const problems: string[] = [];
        if (c.inputs.backupEnabled !== true) problems.push(`${c.name}: cloud backups are off`);
        const schedule = schedules.find((s) => s.inputs.clusterName === c.inputs.name);
        if (!schedule?.inputs.policyItemHourly || !schedule.inputs.policyItemDaily) problems.push(`${c.name}: no hourly and daily backup policy`);
        else if (!(schedule.inputs.policyItemHourly.frequencyInterval <= context.rpoHours)) problems.push(`${c.name}: snapshots every ${schedule.inputs.policyItemHourly.frequencyInterval} h exceed the RPO of ${context.rpoHours} h`);
        return problems;
      });
    },
  },
  {
    name: 'atlas-pitr-and-protection-in-production',
    anchor: 'issue 6 (Atlas: PITR and termination protection in production)',
    description: 'Production clusters have point-in-time recovery and termination protection.',
    check: (resources, context) =>
      context.environment !== 'production'
        ? []
        : ofType(resources, 'mongodbatlas:index/advancedCluster:AdvancedCluster').flatMap((c) => [
            ...(c.inputs.pitEnabled === true ? [] : [`${c.name}: point-in-time recovery is off`]),
            ...(c.inputs.terminationProtectionEnabled === true ? [] : [`${c.name}: termination protection is off`]),
          ]),
  },
  {
    name: 'atlas-no-open-access-list',
    anchor: 'issue 6 (never 0.0.0.0/0); MongoDB Atlas security checklist (IP access list)',
    description: 'No access list entry opens the project to the whole internet.',
    check: (resources) =>
      ofType(resources, 'mongodbatlas:index/projectIpAccessList:ProjectIpAccessList')
        .filter((e) => String(e.inputs.cidrBlock ?? '').endsWith('/0') || e.inputs.ipAddress === '0.0.0.0')
        .map((e) => `${e.name}: open to the internet`),
  },
  {
    name: 'atlas-least-privilege-user',
    anchor: 'issue 6 (user scoped to the cluster, no atlasAdmin); Atlas database user best practices',
    description: 'Database users have no admin or any-database roles and are scoped to clusters.',
    check: (resources) => {
      const forbidden = ['atlasAdmin', 'readWriteAnyDatabase', 'dbAdminAnyDatabase', 'readAnyDatabase', 'clusterAdmin', 'dbAdmin', 'root'];
      return ofType(resources, 'mongodbatlas:index/databaseUser:DatabaseUser').flatMap((u) => [
        ...(u.inputs.roles ?? []).filter((r: any) => forbidden.includes(r.roleName) || r.databaseName === 'admin').map((r: any) => `${u.name}: role ${r.roleName}@${r.databaseName} is too broad`),
        ...((u.inputs.scopes ?? []).some((s: any) => s.type === 'CLUSTER') ? [] : [`${u.name}: not scoped to a cluster`]),
      ]);
    },
  },
];

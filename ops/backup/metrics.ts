import fs from 'node:fs';
import path from 'node:path';

/**
 * The two gauges the alerts watch (alerts/external-metrics.ts), produced by the backup job:
 * written as a node_exporter textfile when BACKUP_METRICS_FILE is set, and/or pushed to a
 * Pushgateway when BACKUP_PUSHGATEWAY_URL is set. Without either, nothing happens.
 */
export const backupMetricNames = {
  lastSuccess: 'switchboard_backup_last_success_timestamp_seconds',
  lastVerifySuccess: 'switchboard_backup_last_verify_success',
  /** The quarterly restore drill (`ops backup drill`): when it last passed, and how long its verified restore took. */
  lastDrillSuccess: 'switchboard_restore_drill_last_success_timestamp_seconds',
  lastDrillDuration: 'switchboard_restore_drill_last_duration_seconds',
} as const;

const help: Record<(typeof backupMetricNames)[keyof typeof backupMetricNames], string> = {
  switchboard_backup_last_success_timestamp_seconds: 'Unix time of the last completed ops backup.',
  switchboard_backup_last_verify_success: '1 when the last ops backup verify matched the manifest, else 0.',
  switchboard_restore_drill_last_success_timestamp_seconds: 'Unix time of the last ops backup drill that restored, matched and met the RTO target.',
  switchboard_restore_drill_last_duration_seconds: 'Seconds the last ops backup drill took to a verified restore (the measured RTO).',
};

export async function publishBackupMetric(
  name: (typeof backupMetricNames)[keyof typeof backupMetricNames],
  value: number,
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  const file = env.BACKUP_METRICS_FILE;
  const gateway = env.BACKUP_PUSHGATEWAY_URL;
  if (!file && !gateway) return;
  const body = `# HELP ${name} ${help[name]}\n# TYPE ${name} gauge\n${name} ${value}\n`;
  if (file) {
    // One file per metric, replaced atomically (the textfile collector reads *.prom in that directory).
    const target = file.endsWith('.prom') ? file.replace(/\.prom$/, `.${name}.prom`) : path.join(file, `${name}.prom`);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(`${target}.tmp`, body);
    fs.renameSync(`${target}.tmp`, target);
  }
  if (gateway) {
    const url = `${gateway.replace(/\/+$/, '')}/metrics/job/switchboard_backup/metric/${name}`;
    const res = await fetch(url, { method: 'PUT', body, headers: { 'content-type': 'text/plain; version=0.0.4' } });
    if (!res.ok) throw new Error(`Pushgateway ${url} answered ${res.status}`);
  }
}

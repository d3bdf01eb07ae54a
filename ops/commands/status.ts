import type { CommandContext, CommandHandler } from '../cli/types';
import { parseDuration } from '../state/context';
import type { ReleaseRecord } from '../state/releases';
import type { StatusReport } from '../targets/target';
import { targetFor } from './common';

function render(report: StatusReport, last: ReleaseRecord | undefined): string {
  const lines = [
    `${report.env} (${report.target}): ${report.healthy ? 'HEALTHY' : 'UNHEALTHY'}`,
    `  url          ${report.url ?? '-'}   front door: ${report.frontDoor.running ? 'running' : 'DOWN'}${report.frontDoor.detail ? ` (${report.frontDoor.detail})` : ''}`,
    `  maintenance  ${report.maintenance.on ? `ON since ${report.maintenance.since}: "${report.maintenance.message}"` : 'off'}`,
    `  last deploy  ${last ? `${last.id} ${last.kind} ${last.status} by ${last.who} at ${last.startedAt} (${last.version}) "${last.description}"` : 'none'}`,
    '  instances:',
    ...report.instances.map((i) => `    ${i.id.padEnd(16)} ${i.url.padEnd(24)} version ${i.version ?? '?'}  health ${i.healthy ? 'ok' : 'DOWN'}  ready ${i.ready ? 'yes' : 'NO'}  maintenance ${i.maintenance ? 'on' : 'off'}  sockets ${i.sockets ?? '-'}${i.error ? `  (${i.error.split('\n')[0]})` : ''}`),
    ...(report.instances.length ? [] : ['    none']),
    ...(report.problems.length ? ['  problems:', ...report.problems.map((p) => `    - ${p.split('\n')[0]}`)] : []),
  ];
  if (!report.healthy) lines.push(`next: ${report.instances.length ? 'see the instance logs above; ops deploy (or ops rollback) starts fresh instances' : 'ops deploy'}`);
  return lines.join('\n');
}

async function once(ctx: CommandContext): Promise<StatusReport> {
  const { target, env, state } = targetFor(ctx);
  const report = await target.status();
  const last = (await state.listReleases(env)).at(-1);
  ctx.out.result({ ...report, lastDeploy: last ?? null }, render(report, last));
  return report;
}

export const handlers: Record<string, CommandHandler> = {
  async status(ctx) {
    if (!ctx.values.watch) return (await once(ctx)).healthy ? 0 : 1;
    const interval = parseDuration(`${(ctx.values.interval as string | undefined) ?? '2'}s`);
    for (;;) {
      if (!ctx.out.json) process.stdout.write('\x1b[2J\x1b[H');
      await once(ctx);
      await new Promise((r) => setTimeout(r, interval));
    }
  },
};

import { describeUnknown, EXIT_UNKNOWN } from '../cli/output';
import type { CommandContext, CommandHandler } from '../cli/types';
import { parseDuration } from '../state/context';
import type { ReleaseRecord } from '../state/releases';
import type { StatusReport } from '../targets/target';
import { targetFor } from './common';

/** Healthy 0; something known to be wrong 1; otherwise, when something could not be read, unknown (EXIT_UNKNOWN). */
export function statusExitCode(report: StatusReport): number {
  if (report.healthy) return 0;
  return report.problems.length === 0 && report.unknowns?.length ? EXIT_UNKNOWN : 1;
}

function render(report: StatusReport, last: ReleaseRecord | undefined): string {
  const unknownOf = (what: string) => report.unknowns?.find((u) => u.what === what);
  const verdict = report.healthy ? 'HEALTHY' : statusExitCode(report) === EXIT_UNKNOWN ? 'UNKNOWN' : 'UNHEALTHY';
  const door = unknownOf('front door');
  const lines = [
    `${report.env} (${report.target}): ${verdict}`,
    `  url          ${report.url ?? '-'}   front door: ${door ? 'unknown' : report.frontDoor.running ? 'running' : 'DOWN'}${report.frontDoor.detail ? ` (${report.frontDoor.detail})` : ''}`,
    `  maintenance  ${report.maintenance.unknown ? `unknown (${report.maintenance.unknown.reason})` : report.maintenance.on ? `ON since ${report.maintenance.since}: "${report.maintenance.message}"` : 'off'}`,
    `  last deploy  ${last ? `${last.id} ${last.kind} ${last.status} by ${last.who} at ${last.startedAt} (${last.version}) "${last.description}"` : 'none'}`,
    '  instances:',
    ...report.instances.map((i) => `    ${i.id.padEnd(16)} ${i.url.padEnd(24)} version ${i.version ?? '?'}  health ${i.healthy ? 'ok' : 'DOWN'}  ready ${i.ready ? 'yes' : 'NO'}  maintenance ${i.maintenance ? 'on' : 'off'}  sockets ${i.sockets ?? '-'}${i.error ? `  (${i.error.split('\n')[0]})` : ''}`),
    ...(report.instances.length ? [] : [unknownOf('instances') ? '    unknown' : '    none']),
    ...(report.unknowns?.length ? ['  unknown:', ...report.unknowns.map((u) => `    - ${describeUnknown(u)}`)] : []),
    ...(report.problems.length ? ['  problems:', ...report.problems.map((p) => `    - ${p.split('\n')[0]}`)] : []),
  ];
  // "next: ops deploy" only when it is known that nothing runs; an unknown names what would let ops look.
  const firstUnknown = report.unknowns?.[0];
  if (!report.healthy) lines.push(`next: ${firstUnknown && !report.problems.length ? firstUnknown.next : report.instances.length ? 'see the instance logs above; ops deploy (or ops rollback) starts fresh instances' : firstUnknown ? firstUnknown.next : `ops deploy --env ${report.env}`}`);
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
    if (!ctx.values.watch) return statusExitCode(await once(ctx));
    const interval = parseDuration(`${(ctx.values.interval as string | undefined) ?? '2'}s`);
    for (;;) {
      if (!ctx.out.json) process.stdout.write('\x1b[2J\x1b[H');
      await once(ctx);
      await new Promise((r) => setTimeout(r, interval));
    }
  },
};

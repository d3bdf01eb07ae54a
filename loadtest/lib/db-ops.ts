/**
 * MongoDB operations the core issued, by command, from its own metrics registry
 * (`chat_mongodb_operation_duration_seconds_count`, store/command-timing.ts): how many database calls a
 * request or a message costs (issue 23: "fewer or cheaper database calls per request").
 */
export type DbOps = Map<string, number>;

/** The core's operation counts by command now; undefined when its metrics endpoint does not answer. */
export async function readDbOps(metricsUrl: string): Promise<DbOps | undefined> {
  try {
    const text = await (await fetch(`${metricsUrl}/metrics`)).text();
    const out: DbOps = new Map();
    for (const line of text.split('\n')) {
      const m = /^chat_mongodb_operation_duration_seconds_count\{([^}]*)\} (\S+)/.exec(line);
      if (!m) continue;
      const command = /command="([^"]+)"/.exec(m[1]!)?.[1] ?? '?';
      out.set(command, (out.get(command) ?? 0) + Number(m[2]));
    }
    return out;
  } catch {
    return undefined;
  }
}

/** Operations between two readings, per unit (request or message), total and by command (rounded). */
export function dbOpsPer(before: DbOps, after: DbOps, units: number): { total: number; byCommand: Record<string, number> } {
  const byCommand: Record<string, number> = {};
  let total = 0;
  for (const [command, n] of after) {
    const d = n - (before.get(command) ?? 0);
    if (d <= 0) continue;
    total += d;
    byCommand[command] = Math.round((d / units) * 1000) / 1000;
  }
  return { total: Math.round((total / units) * 1000) / 1000, byCommand };
}

import type { VerificationRecord } from './manifest';

export function verifyToText(record: VerificationRecord): string {
  const rows = record.collections.map((c) =>
    `  ${c.name.padEnd(16)} ${String(c.restored).padStart(10)} / ${c.expected} docs  hash ${c.hashMatches ? 'ok' : 'MISMATCH'}  indexes ${c.indexesMatch ? 'ok' : 'MISMATCH'}`);
  return [
    `backup ${record.backupId}: ${record.ok ? 'VERIFIED' : 'VERIFICATION FAILED'} (${(record.durationMs / 1000).toFixed(1)} s, scratch database ${record.scratchDatabase} dropped)`,
    ...rows,
    ...(record.error ? [`  error: ${record.error}`] : []),
  ].join('\n');
}

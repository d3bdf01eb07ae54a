/**
 * What the runbooks may rely on: the procedure pages (besides one page per alert) and the `ops`
 * commands they quote, with the flags each accepts. The test checks every `ops` command in a
 * runbook against this list AND against the CLI's own registry (ops/cli/registry.ts).
 */
export const procedures = {
  'deploy.md': 'Deploy a new version',
  'rollback.md': 'Roll back to an earlier release',
  'restore-from-backup.md': 'Restore the database from a backup',
  'maintenance-window.md': 'Run a maintenance window',
  'incident-checklist.md': 'Incident checklist (start here when in doubt)',
  'scaling-out.md': 'Scale out the core',
  'maintenance-schedule.md': 'Maintenance schedule (weekly, monthly, quarterly tasks)',
} as const;

/** A flag and whether it takes a value (`--to v3`) or is a switch (`--yes`). */
type Flags = Record<string, 'value' | 'switch'>;

export interface OpsCommandSpec {
  path: string[];
  flags: Flags;
  /** Positional arguments allowed after the path (e.g. the backup id of `ops restore <backup>`). */
  positionals: number;
}

export const opsCommands: OpsCommandSpec[] = [
  { path: ['deploy'], flags: { '--env': 'value', '--version': 'value', '--strategy': 'value', '--dry-run': 'switch', '--yes': 'switch', '--skip-preflight': 'value', '--skip-verify': 'value', '--lock-wait': 'value', '--allow-drift': 'switch', '--set': 'value' }, positionals: 0 },
  { path: ['config', 'set'], flags: { '--env': 'value', '--secret': 'switch', '--yes': 'switch', '--dry-run': 'switch', '--lock-wait': 'value' }, positionals: 3 },
  { path: ['config', 'get'], flags: { '--env': 'value', '--json': 'switch' }, positionals: 3 },
  { path: ['rollback'], flags: { '--to': 'value', '--env': 'value', '--yes': 'switch', '--lock-wait': 'value' }, positionals: 1 },
  { path: ['releases'], flags: { '--json': 'switch', '--env': 'value' }, positionals: 0 },
  { path: ['releases', 'prune'], flags: { '--keep': 'value' }, positionals: 0 },
  { path: ['preflight'], flags: { '--env': 'value', '--skip': 'value', '--json': 'switch' }, positionals: 0 },
  { path: ['verify'], flags: { '--env': 'value', '--url': 'value', '--json': 'switch' }, positionals: 0 },
  { path: ['lock', 'status'], flags: { '--env': 'value' }, positionals: 0 },
  { path: ['lock', 'acquire'], flags: { '-m': 'value', '--ttl': 'value' }, positionals: 0 },
  { path: ['lock', 'release'], flags: {}, positionals: 0 },
  { path: ['maintenance', 'on'], flags: { '--message': 'value', '--retry-after': 'value', '--duration': 'value', '--alertmanager-url': 'value', '--env': 'value' }, positionals: 0 },
  { path: ['maintenance', 'off'], flags: { '--env': 'value', '--alertmanager-url': 'value' }, positionals: 0 },
  { path: ['maintenance', 'status'], flags: { '--env': 'value' }, positionals: 0 },
  { path: ['logs'], flags: { '--env': 'value', '--since': 'value', '--follow': 'switch', '--instance': 'value' }, positionals: 0 },
  { path: ['tunnel'], flags: { '--env': 'value' }, positionals: 1 },
  { path: ['alerts', 'drill'], flags: { '--env': 'value', '--alertmanager-url': 'value', '--timeout': 'value', '--json': 'switch' }, positionals: 0 },
  { path: ['status'], flags: { '--json': 'switch', '--watch': 'switch', '--env': 'value' }, positionals: 0 },
  { path: ['audit'], flags: { '--env': 'value', '--limit': 'value' }, positionals: 0 },
  { path: ['backup'], flags: { '--to': 'value', '--atlas': 'switch', '--retention-days': 'value' }, positionals: 0 },
  { path: ['backup', 'list'], flags: { '--atlas': 'switch' }, positionals: 0 },
  { path: ['backup', 'prune'], flags: { '--keep-daily': 'value', '--keep-weekly': 'value', '--dry-run': 'switch' }, positionals: 0 },
  { path: ['backup', 'verify'], flags: { '--latest': 'switch', '--from': 'value', '--json': 'switch' }, positionals: 0 },
  { path: ['backup', 'drill'], flags: { '--from': 'value', '--rto': 'value', '--last': 'switch' }, positionals: 0 },
  { path: ['restore'], flags: { '--into': 'value', '--drop': 'switch', '--yes': 'switch', '--atlas': 'switch', '--point-in-time': 'value', '--snapshot': 'value' }, positionals: 1 },
  { path: ['jobs', 'list'], flags: { '--json': 'switch' }, positionals: 0 },
  { path: ['jobs', 'run'], flags: { '--dry-run': 'switch', '--json': 'switch' }, positionals: 1 },
  { path: ['jwt', 'add'], flags: { '--max-token-ttl': 'value' }, positionals: 0 },
  { path: ['jwt', 'switch'], flags: {}, positionals: 0 },
  { path: ['jwt', 'retire'], flags: { '--force': 'switch' }, positionals: 0 },
  { path: ['jwt', 'status'], flags: {}, positionals: 0 },
];

export interface QuotedCommand {
  file: string;
  text: string;
}

/** A quoted command with where it stands: its 1-based line, that whole line, and the heading above it. */
export interface QuotedStep extends QuotedCommand {
  line: number;
  source: string;
  heading: string;
}

/**
 * Every `ops ...` command quoted in markdown, in document order: lines of fenced code blocks and inline
 * code spans outside them. A command piped into ops (`printf %s … | ops config set …`) counts from `ops`.
 */
export function quotedOpsSteps(file: string, markdown: string): QuotedStep[] {
  const found: QuotedStep[] = [];
  const opsPart = (text: string) => /(?:^|\|\s+)(ops(?:\s.*)?)$/.exec(text)?.[1];
  let fenced = false;
  let heading = '';
  markdown.split('\n').forEach((source, i) => {
    const step = (text: string) => found.push({ file, text, line: i + 1, source, heading });
    // Fences may be indented (code blocks inside numbered steps).
    if (/^[ \t]*```/.test(source)) {
      fenced = !fenced;
      return;
    }
    if (fenced) {
      const text = opsPart(source.replace(/^\s*\$\s+/, '').replace(/\s+#.*$/, '').trim());
      if (text) step(text);
      return;
    }
    if (/^#{1,6}\s/.test(source)) heading = source.replace(/^#+\s*/, '').trim();
    for (const span of source.matchAll(/`([^`\n]+)`/g)) {
      const text = opsPart((span[1] ?? '').trim());
      if (text?.startsWith('ops ')) step(text);
    }
  });
  return found;
}

/** Every `ops ...` command quoted in markdown (see quotedOpsSteps), in document order. */
export function quotedOpsCommands(file: string, markdown: string): QuotedCommand[] {
  return quotedOpsSteps(file, markdown).map(({ file: f, text }) => ({ file: f, text }));
}

/** Shell-like split: whitespace-separated, "double" and 'single' quotes kept together. */
export const shellWords = (text: string) => [...text.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3] ?? '');

/** Resolves a quoted command to its spec, or explains what is wrong with it. */
export function resolveOpsCommand(text: string, specs: OpsCommandSpec[] = opsCommands): { spec: OpsCommandSpec } | { error: string } {
  // The ops command ends at the first unquoted shell operator (`ops logs … | grep x`).
  const tokens = [...text.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)];
  const end = tokens.findIndex((m) => m[3] !== undefined && /^(\||\|\||&&|;|>|>>|<)$/.test(m[3]));
  const words = shellWords(text).slice(1, end < 0 ? undefined : end);
  let spec: OpsCommandSpec | undefined;
  for (const candidate of specs) {
    if (candidate.path.every((p, i) => words[i] === p) && (!spec || candidate.path.length > spec.path.length)) spec = candidate;
  }
  if (!spec) return { error: `unknown ops command: ${text}` };
  let positionals = 0;
  const rest = words.slice(spec.path.length);
  for (let i = 0; i < rest.length; i++) {
    const word = rest[i] as string;
    if (word.startsWith('-')) {
      const [flag] = word.split('=');
      const kind = spec.flags[flag as string];
      if (!kind) return { error: `ops ${spec.path.join(' ')} has no flag ${flag}: ${text}` };
      if (kind === 'value' && !word.includes('=')) i++;
    } else {
      positionals++;
    }
  }
  if (positionals > spec.positionals) return { error: `ops ${spec.path.join(' ')} takes ${spec.positionals} argument(s): ${text}` };
  return { spec };
}

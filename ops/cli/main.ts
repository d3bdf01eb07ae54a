import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runSync, setVerbose } from '../process';
import { closest } from './did-you-mean';
import { commands } from './registry';
import { createOutput, OpsError, type Streams } from './output';
import type { CommandEntry, OptionSpec } from './types';
import { envNameOf, runViaTunnels } from './via-tunnel';

/** `ops <command...> [options]`: finds the command in the registry, parses its options and runs it. */
export async function runCli(argv: string[], streams: Streams = process, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  // --verbose (any command, or OPS_VERBOSE=1): the process layer echoes every external command line.
  // Words after `--` belong to another program (`ops exec -- ls --help --verbose`): never read as ops' own.
  const dash = argv.indexOf('--');
  const own = dash === -1 ? argv : argv.slice(0, dash);
  const rest = dash === -1 ? [] : argv.slice(dash);
  if (own.includes('--verbose') || env.OPS_VERBOSE === '1') setVerbose(true);
  // --via-tunnel is global like --verbose: commands whose modules parse their own options (backup, jobs) get it too.
  const viaTunnel = own.includes('--via-tunnel');
  argv = [...own.filter((a) => a !== '--verbose' && a !== '--via-tunnel'), ...rest];
  if (argv[0] === '--version' || argv[0] === '-V') {
    streams.stdout.write(`${versionLine()}\n`);
    return 0;
  }
  const words = argv.slice(0, firstOptionIndex(argv));
  if (words.length === 0 || words[0] === 'help') {
    const topic = words.slice(1);
    const entry = topic.length ? findEntry(topic) : undefined;
    streams.stdout.write(entry ? entryHelp(entry) : globalHelp(topic));
    return argv.length === 0 || argv.includes('--help') || argv.includes('-h') || words[0] === 'help' ? 0 : 2;
  }
  const entry = findEntry(words);
  if (!entry) {
    const group = commands.filter((c) => c.path[0] === words[0]);
    if (group.length && words.length === 1 && (argv.includes('--help') || argv.includes('-h'))) {
      streams.stdout.write(globalHelp([words[0]!]));
      return 0;
    }
    const guesses = group.length ? [] : closest(words[0]!, [...new Set(commands.map((c) => c.path[0]!))]);
    const didYouMean = guesses.length ? `did you mean: ${guesses.slice(0, 3).map((g) => `ops ${g}`).join(', ')}?\n` : '';
    streams.stderr.write(`error: unknown command "ops ${words.join(' ')}"\n${didYouMean}${group.length ? `${globalHelp([words[0]!])}next: ops ${words[0]} --help\n` : 'next: ops --help lists every command\n'}`);
    return 2;
  }
  const args = argv.slice(entry.path.length);
  const ownArgs = args.includes('--') ? args.slice(0, args.indexOf('--')) : args;
  if (ownArgs.includes('--help') || ownArgs.includes('-h')) {
    const spec = entry.options ? undefined : (await entry.load().catch(() => undefined))?.specs?.[entry.path.join(' ')];
    streams.stdout.write(entryHelp(spec ? { ...entry, usage: spec.usage, options: spec.options } : entry));
    return 0;
  }
  let values: Record<string, string | boolean | string[] | undefined> = {};
  let positionals: string[] = [];
  if (entry.options) {
    try {
      const parsed = parseArgs({ args, options: toParseArgs(entry.options), strict: true, allowPositionals: true });
      values = parsed.values as typeof values;
      positionals = parsed.positionals;
      // Commands that declare `words` read them from positionals themselves (ops config set KEY=VALUE...).
      if (!entry.words) {
        values = withPositional(entry, values, positionals);
        positionals = [];
      }
    } catch (error) {
      streams.stderr.write(`error: ${(error as Error).message}\nusage: ops ${entry.usage ?? `${entry.path.join(' ')} [options]`}\nnext: ops ${entry.path.join(' ')} --help\n`);
      return 2;
    }
  }
  const json = values.json === true || (!entry.options && args.includes('--json'));
  const out = createOutput(streams, json);
  const name = `ops ${entry.path.join(' ')}`;
  try {
    const module = await entry.load();
    const handler = module.handlers[entry.path.join(' ')];
    if (!handler) throw new OpsError(`${name} is not implemented yet in this checkout.`, 'ops --help lists the commands; ask the owner of this command group');
    const invoke = (commandEnv: NodeJS.ProcessEnv) => handler({ path: entry.path, args, values, positionals, out, env: commandEnv });
    const code = viaTunnel
      ? await runViaTunnels({ command: name, stores: entry.dataStores, envName: envNameOf(args, values, env), env, out }, invoke)
      : await invoke(env);
    return code ?? 0;
  } catch (error) {
    const opsError = error instanceof OpsError ? error : undefined;
    const message = (error as Error).message;
    streams.stderr.write(`\nerror: ${message}\n`);
    if (opsError?.next) streams.stderr.write(`next: ${opsError.next}\n`);
    if (!opsError && env.OPS_DEBUG) streams.stderr.write(`${(error as Error).stack}\n`);
    if (!opsError) streams.stderr.write(`next: rerun with OPS_DEBUG=1 for the stack trace; \`ops status\` shows what is serving\n`);
    if (json) streams.stdout.write(`${JSON.stringify({ ok: false, command: name, error: message, next: opsError?.next, steps: out.steps }, null, 2)}\n`);
    return opsError?.exitCode ?? 1;
  }
}

/**
 * Extra words after a command: `ops rollback v3` means `--to v3` and `ops deploy v42` means `--version v42`
 * (what Kamal and Heroku users type), declared per command as `positional`; a word no command takes is
 * refused instead of being ignored (exit 2).
 */
function withPositional(entry: CommandEntry, values: Record<string, string | boolean | string[] | undefined>, positionals: string[]) {
  if (!positionals.length) return values;
  const option = entry.positional;
  if (!option) throw new Error(`ops ${entry.path.join(' ')} takes no argument "${positionals[0]}" (only options)`);
  if (positionals.length > 1) throw new Error(`ops ${entry.path.join(' ')} takes one <${option}>, got ${positionals.length}: ${positionals.join(' ')}`);
  const given = values[option];
  if (given !== undefined && given !== positionals[0]) throw new Error(`"${positionals[0]}" and --${option} ${String(given)} disagree: give one of them`);
  return { ...values, [option]: positionals[0] };
}

/** `ops --version`: the package version and the checkout's commit (what an operator quotes in an incident). */
function versionLine(): string {
  const root = path.join(__dirname, '..', '..');
  const { version } = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
  const result = runSync('git', ['-C', root, 'rev-parse', '--short=12', 'HEAD'], { nothrow: true, timeoutMs: 10_000 });
  const commit = result.ok ? result.stdout.trim() : 'unknown (not a git checkout)';
  return `ops ${version} (commit ${commit}, node ${process.versions.node})`;
}

function firstOptionIndex(argv: string[]): number {
  const index = argv.findIndex((a) => a.startsWith('-'));
  return index === -1 ? argv.length : index;
}

/** The longest registered path that the words start with. */
export function findEntry(words: string[]): CommandEntry | undefined {
  let best: CommandEntry | undefined;
  for (const entry of commands) {
    if (entry.path.length > words.length) continue;
    if (entry.path.every((p, i) => words[i] === p) && (!best || entry.path.length > best.path.length)) best = entry;
  }
  // `ops releases foo` must not silently run `ops releases`: extra words are only allowed as positionals of leaf commands.
  if (best && words.length > best.path.length && commands.some((c) => c.path.length > best!.path.length && c.path[0] === best!.path[0])) return undefined;
  return best;
}

function toParseArgs(options: Record<string, OptionSpec>) {
  const result: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = { help: { type: 'boolean', short: 'h' } };
  for (const [name, spec] of Object.entries(options)) result[name] = { type: spec.type, ...(spec.short ? { short: spec.short } : {}), ...(spec.multiple ? { multiple: true } : {}) };
  return result;
}

export function entryHelp(entry: CommandEntry): string {
  const lines = [`usage: ops ${entry.usage ?? `${entry.path.join(' ')} [options]`}`, '', entry.summary, ''];
  if (entry.options) {
    lines.push('options:');
    const rows = Object.entries(entry.options).map(([name, spec]) => [`  ${spec.short ? `-${spec.short}, ` : ''}--${name}${spec.value ? ` ${spec.value}` : ''}`, spec.help]);
    if (entry.dataStores) rows.push(['  --via-tunnel', `stacks: reach ${entry.dataStores.join(' and ')} through \`ops tunnel\` while the command runs (closed afterwards)`]);
    rows.push(['  -h, --help', 'show this help']);
    const width = Math.max(...rows.map((r) => r[0]!.length)) + 2;
    for (const [left, right] of rows) lines.push(`${left!.padEnd(width)}${right}`);
  } else {
    lines.push('options: see the command group\'s own documentation (options are parsed by its module).');
  }
  if (entry.details) lines.push('', entry.details);
  return `${lines.join('\n')}\n`;
}

export function globalHelp(prefix: string[] = []): string {
  const shown = commands.filter((c) => prefix.every((p, i) => c.path[i] === p));
  const width = Math.max(...shown.map((c) => c.path.join(' ').length)) + 4;
  const lines = [
    'usage: ops <command> [options]     (ops <command> --help for its options)',
    '',
    'commands:',
    ...shown.map((c) => `  ${c.path.join(' ').padEnd(width)}${c.summary}`),
    '',
    'Every command takes --verbose: print each external command line (git, nginx, tar, ...) before it runs.',
    'Commands that reach MongoDB or Redis take --via-tunnel: on a stack, open `ops tunnel` for each while they run.',
    'Environment: OPS_ENV (default target), OPS_STATE_DIR (default var/ops), OPS_USER (who, for records and locks), OPS_VERBOSE=1.',
  ];
  return `${lines.join('\n')}\n`;
}

/** The process entry (ops/bin/ops: `node --import tsx ops/cli/main.ts`, one process so Ctrl-C reaches ops). */
export function main(): void {
  runCli(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (error: Error) => { console.error(error); process.exitCode = 1; },
  );
}

if (require.main === module) main();

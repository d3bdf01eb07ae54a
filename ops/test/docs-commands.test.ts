import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { quotedOpsCommands, shellWords } from '../../runbooks/catalog';
import { findEntry } from '../cli/main';
import { commands } from '../cli/registry';
import type { OptionSpec } from '../cli/types';

/**
 * Every `ops …` command a document names exists and parses with the CLI's own definitions (the
 * registry's options, or the module's specs for command groups that parse their own), flags included:
 * README.md, ops/README.md, infra/README.md and every runbook.
 */
const root = path.join(__dirname, '..', '..');
const documents = ['README.md', 'ops/README.md', 'infra/README.md', ...fs.readdirSync(path.join(root, 'runbooks')).filter((f) => f.endsWith('.md')).map((f) => `runbooks/${f}`)];

/** Why a quoted command does not parse, or undefined. */
async function problemOf(text: string): Promise<string | undefined> {
  // Shell around the command (pipes, &&, $(…)) is not ops' business: the first command only.
  // Usage syntax in prose (`[--env <env>]`) reads as the options it shows.
  const words = shellWords(text.split(/\s(?:\||&&|;)\s/)[0]!).slice(1).map((w) => w.replace(/^\[|\]$/g, '')).filter(Boolean);
  if (words.length === 0 || words[0] === '--help' || words[0] === '--version') return undefined;
  const firstOption = words.findIndex((w) => w.startsWith('-'));
  const head = words.slice(0, firstOption === -1 ? words.length : firstOption);
  const entry = findEntry(head);
  // Prose naming a command group (`ops maintenance`, `ops jwt`) refers to its commands.
  if (!entry && head.length === 1 && words.length === 1 && commands.some((c) => c.path[0] === head[0])) return undefined;
  if (!entry) return `no command "ops ${head.join(' ')}"`;
  let options: Record<string, OptionSpec> | undefined = entry.options;
  if (!options) options = (await entry.load()).specs?.[entry.path.join(' ')]?.options;
  if (!options) return undefined; // a group that parses its own options and publishes no specs
  const args = words.slice(entry.path.length);
  try {
    const parsed = parseArgs({ args, strict: true, allowPositionals: true, options: { help: { type: 'boolean', short: 'h' }, verbose: { type: 'boolean' }, ...(entry.dataStores ? { 'via-tunnel': { type: 'boolean' as const } } : {}), ...Object.fromEntries(Object.entries(options).map(([k, o]) => [k, { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) }])) } });
    const allowed = entry.options && !entry.words ? (entry.positional ? 1 : 0) : Infinity;
    if (parsed.positionals.length > allowed) return `extra words ${parsed.positionals.join(' ')}`;
  } catch (error) {
    return (error as Error).message.split('.')[0];
  }
  return undefined;
}

test('every ops command quoted in the README, ops/README.md, infra/README.md and the runbooks exists, with valid flags', async () => {
  const quoted = documents.flatMap((file) => quotedOpsCommands(file, fs.readFileSync(path.join(root, file), 'utf8')));
  expect(quoted.length).toBeGreaterThan(50);
  const problems: string[] = [];
  for (const q of quoted) {
    const problem = await problemOf(q.text);
    if (problem) problems.push(`${q.file}: \`${q.text}\`: ${problem}`);
  }
  expect(problems).toEqual([]);
});

test('the checker catches a command that does not exist and a flag the command does not take', async () => {
  expect(await problemOf('ops maintenance --edge')).toContain('no command');
  expect(await problemOf('ops maintenance')).toBeUndefined();
  expect(await problemOf('ops maintenanse')).toContain('no command');
  expect(await problemOf('ops lock acquire -m "x" --ttl 1h --colour')).toMatch(/Unknown option '--colour'/);
  expect(await problemOf('ops rollback v3 --env production')).toBeUndefined();
  expect(await problemOf('ops status extra')).toContain('extra words');
});

test('every quoted `ops lock acquire` gives the --ttl it requires (a manual lock has no default expiry)', () => {
  const acquires = documents.flatMap((file) => quotedOpsCommands(file, fs.readFileSync(path.join(root, file), 'utf8'))).filter((q) => /^ops lock acquire\s+-/.test(q.text)); // with options: an invocation, not the command named in prose
  expect(acquires.length).toBeGreaterThan(3);
  expect(acquires.filter((q) => !/\s--ttl\s+\d/.test(q.text))).toEqual([]);
});

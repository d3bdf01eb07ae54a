import type { Output } from './output';

/** A stack's data store that `ops tunnel` (and `--via-tunnel`) reach through a pod. */
export type DataStore = 'mongodb' | 'redis';

/** One option of a command, used both to parse argv (node:util parseArgs) and to print --help. */
export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** Shown in --help, e.g. `<ref>`. */
  value?: string;
  help: string;
  multiple?: boolean;
}

/** What a handler receives: parsed options, positionals, the output (progress + result) and the environment. */
export interface CommandContext {
  /** The command path that was matched, e.g. ['lock', 'acquire']. */
  path: string[];
  /** Raw arguments after the command path (for modules that parse their own). */
  args: string[];
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
  out: Output;
  env: NodeJS.ProcessEnv;
}

/** Exit code, or nothing for 0. */
export type CommandHandler = (ctx: CommandContext) => Promise<number | void>;

/**
 * A module that contributes commands: `handlers` keyed by the command path joined with spaces
 * ('backup', 'backup list', 'restore'). The registry loads it lazily, only when one of its commands runs.
 */
export interface CommandModule {
  handlers: Record<string, CommandHandler>;
  /** Optional usage/options per path, for --help of commands whose registry entry declares no options. */
  specs?: Record<string, { usage: string; options: Record<string, OptionSpec> }>;
}

export interface CommandEntry {
  path: string[];
  summary: string;
  /** Usage line after `ops`, e.g. `deploy [--env local|<stack>] ...`. */
  usage?: string;
  /** Declared options; undefined means the module parses `args` itself (only --help is handled for it). */
  options?: Record<string, OptionSpec>;
  /** The option one extra word stands for (`ops rollback v3` = `--to v3`); without it extra words are refused. */
  positional?: string;
  /** The command reads any number of words itself from `positionals` (`ops config set KEY=VALUE...`); shown in usage as this. */
  words?: string;
  /** Longer text printed by --help after the options. */
  details?: string;
  /** The data stores the command reaches (MONGODB_URI/REDIS_URL): `--via-tunnel` opens a tunnel to each on a stack. */
  dataStores?: DataStore[];
  /** Lazy loader of the module that implements the command; missing module = "not implemented yet". */
  load: () => Promise<CommandModule>;
}

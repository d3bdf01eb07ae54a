import fs from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { repoRoot } from '../../services/paths';

// A stack's committed Pulumi.<stack>.yaml, read without the Pulumi SDK: the CLI's entry points and the
// image's jobs (ops backup in a CronJob) resolve settings from it without loading the stack tooling.

export const infraDir = path.join(repoRoot, 'infra');
export const stackConfigPath = (stack: string, workDir = infraDir): string => path.join(workDir, `Pulumi.${stack}.yaml`);

/** The stack's YAML document (comments kept); throws naming the file when it cannot be read or parsed. */
export function loadStackConfig(file: string): ReturnType<typeof parseDocument> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`cannot read the stack config ${file}: ${(error as Error).message}`, { cause: error });
  }
  const doc = parseDocument(text);
  if (doc.errors.length) throw new Error(`cannot parse the stack config ${file}: ${doc.errors[0]!.message}`);
  return doc;
}

/** Reads a config key (`ns:key` or the path `ns:key.sub`) from the stack's YAML; throws when the file cannot be read or parsed. */
export function readStackConfig(file: string, key: string): string | undefined {
  const value = readStackValue(file, key);
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new Error(`${key} in ${file} is not a string`);
  return value;
}

/** Any config value (number, list, `{ secure }` for a secret) as plain JSON; undefined when unset. */
export function readStackValue(file: string, key: string): unknown {
  const doc = loadStackConfig(file);
  const [top, ...rest] = splitKey(key);
  const value = doc.getIn(['config', top, ...rest]) as unknown;
  if (value === undefined || value === null) return undefined;
  return typeof value === 'object' && value !== null && 'toJSON' in value ? (value as { toJSON(): unknown }).toJSON() : value;
}

/** `switchboard:app.image` → ['switchboard:app', 'image'] (the config path syntax of `pulumi config set --path`). */
export function splitKey(key: string): string[] {
  const colon = key.indexOf(':');
  const [first, ...rest] = key.slice(colon + 1).split('.');
  return [`${key.slice(0, colon)}:${first}`, ...rest];
}


import fs from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';

/**
 * What the image runs, as compiled files under app/: the core, the ops dispatcher and the command
 * modules the CronJobs run (`ops backup`, `ops backup verify`; see infra/src/k8s/backup-manifests.ts).
 */
export const imageEntryPoints = ['core/src/main.js', 'ops/cli/main.js', 'ops/backup/commands.js'];

/**
 * The dispatcher's registry loads every other command module lazily; the image runs only the entry
 * points above, so its lazy loads are not followed (deploy and build need dev tools the image lacks).
 */
const notFollowedFrom = new Set(['ops/cli/registry.js']);

export interface UnresolvedModule {
  module: string;
  /** Entry point → … → the file that requires it. */
  chain: string[];
}

const builtins = new Set(builtinModules);
const isBuiltin = (spec: string) => spec.startsWith('node:') || builtins.has(spec.split('/')[0]!);

function resolveRelative(from: string, spec: string): string | undefined {
  const base = path.resolve(path.dirname(from), spec);
  return [base, `${base}.js`, path.join(base, 'index.js')].find((c) => fs.existsSync(c) && fs.statSync(c).isFile());
}

/**
 * Whether Node finds the package of `spec` in a node_modules between `file` and appDir. Not above
 * appDir: a context staged inside the repository must not count the repository's dev packages.
 */
function installedWithin(appDir: string, file: string, spec: string, resolvesFile: boolean): boolean {
  const name = spec.split('/').slice(0, spec.startsWith('@') ? 2 : 1).join('/');
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'node_modules', name, 'package.json'))) return !resolvesFile || fs.existsSync(path.join(dir, 'node_modules', spec));
    if (path.relative(appDir, dir) === '' || path.relative(appDir, dir).startsWith('..')) return false;
  }
}

/**
 * Every package a compiled file reachable from the entry points requires (eagerly or in a function,
 * as the probes do) that Node cannot resolve from app/: a dependency kept in devDependencies, which
 * the image does not carry. `ops build` refuses such a context instead of a CronJob failing with
 * "Cannot find module". esbuild writes each `require`/`import()` of the sources as `require("…")`.
 * A `require.resolve("package/file")` (a file served from a package, such as the API docs' renderer
 * bundle) counts too, and needs that file in the package, not only the package.
 */
export function unresolvedRuntimeModules(appDir: string, entries: string[] = imageEntryPoints): UnresolvedModule[] {
  const parent = new Map<string, string | undefined>();
  const queue: string[] = [];
  for (const entry of entries) {
    const file = path.join(appDir, entry);
    if (!fs.existsSync(file)) throw new Error(`entry point ${entry} is not in ${appDir}: was it renamed? update imageEntryPoints in ops/build/runtime-modules.ts`);
    parent.set(file, undefined);
    queue.push(file);
  }
  const chain = (file: string) => {
    const files: string[] = [];
    for (let f: string | undefined = file; f; f = parent.get(f)) files.unshift(path.relative(appDir, f));
    return files;
  };
  const unresolved: UnresolvedModule[] = [];
  for (let file = queue.shift(); file; file = queue.shift()) {
    const follow = !notFollowedFrom.has(path.relative(appDir, file));
    for (const [, resolve, spec] of fs.readFileSync(file, 'utf8').matchAll(/\brequire(\.resolve)?\("([^"]+)"\)/g)) {
      if (spec!.startsWith('.')) {
        const target = follow ? resolveRelative(file, spec!) : undefined;
        if (target && !parent.has(target)) {
          parent.set(target, file);
          queue.push(target);
        }
      } else if (!isBuiltin(spec!)) {
        if (!installedWithin(appDir, file, spec!, resolve !== undefined)) unresolved.push({ module: spec!, chain: chain(file) });
      }
    }
  }
  return unresolved;
}

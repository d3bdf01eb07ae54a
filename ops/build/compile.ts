import fs from 'node:fs';
import path from 'node:path';
import { buildSync } from 'esbuild';

/**
 * The production build: TypeScript → CommonJS JavaScript, file by file, with the same esbuild
 * transform jest runs (so what the tests exercise is what ships). No bundling, on purpose: the
 * layout stays `core/src/…`, `ops/…`, so the ops CLI's lazily required command modules and every
 * `__dirname`-relative path keep working, and dependencies stay plain `require`s resolved by Node
 * from node_modules (pino's worker transports, the mongodb driver's optional native add-ons and the
 * AWS SDK need no externals list). Type checking stays `npm run build` (tsc --noEmit).
 */

/** Tests, benchmarks and load-test seeds never ship. */
const excluded = (file: string) => /(^|\/)test\//.test(file) || /\.test\.ts$/.test(file) || /(^|\/)bench[^/]*\.ts$/.test(file);

/** Every .ts file under the given folders (relative to sourceRoot; a .ts path names one file), minus tests and benchmarks. */
export function sourcesUnder(sourceRoot: string, folders: string[]): string[] {
  const found: string[] = [];
  const walk = (relative: string) => {
    if (relative.endsWith('.ts')) {
      found.push(relative);
      return;
    }
    for (const entry of fs.readdirSync(path.join(sourceRoot, relative), { withFileTypes: true })) {
      const child = path.posix.join(relative, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== 'node_modules' && entry.name !== 'generated') walk(child);
      } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') && !excluded(child)) {
        found.push(child);
      }
    }
  };
  for (const folder of folders) walk(folder);
  return found.sort();
}

export interface CompileResult {
  files: number;
  outDir: string;
  ms: number;
}

/**
 * Compiles the folders of sourceRoot into outDir with the same relative paths (`core/src/main.ts`
 * → `<outDir>/core/src/main.js`). Throws with esbuild's messages on a syntax error.
 */
export function compileTree(sourceRoot: string, outDir: string, folders: string[]): CompileResult {
  const started = performance.now();
  const files = sourcesUnder(sourceRoot, folders);
  if (files.length === 0) throw new Error(`no TypeScript sources under ${folders.join(', ')} in ${sourceRoot}`);
  buildSync({
    absWorkingDir: sourceRoot,
    entryPoints: files,
    outbase: '.',
    outdir: outDir,
    bundle: false,
    platform: 'node',
    format: 'cjs',
    target: 'node24',
    // Names stay readable in stack traces; no source maps (enabling them costs memory at run time).
    minify: false,
    logLevel: 'silent',
  });
  return { files: files.length, outDir, ms: Math.round(performance.now() - started) };
}

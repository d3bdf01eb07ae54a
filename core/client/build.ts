/**
 * Builds @switchboard/client into core/client/dist: ESM and CommonJS for bundlers and Node
 * (socket.io-client stays a dependency), one browser ES module with socket.io-client included (what
 * the reference web client loads), .d.ts files, and the reference web client in dist/web (served by
 * the core at /app/ when WEB_CLIENT_DIR points there; `npm start` does). Prints the bundle size against the budget:
 * ≤ 25 KB gzipped without socket.io-client (core/client/test/bundle-size.test.ts enforces it).
 *   npx tsx core/client/build.ts
 */
import { build, type BuildOptions, type Plugin } from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import ts from 'typescript';

export const clientRoot = __dirname;
export const sizeBudgetBytes = 25 * 1024;
const entry = path.join(clientRoot, 'src/index.ts');

const common: BuildOptions = { entryPoints: [entry], bundle: true, target: 'es2020', sourcemap: true, logLevel: 'warning' };

/** Minified ESM without socket.io-client, gzipped: the figure the budget is about. */
export async function measureBundle(): Promise<{ minified: number; gzipped: number }> {
  const result = await build({ ...common, sourcemap: false, write: false, minify: true, format: 'esm', platform: 'neutral', external: ['socket.io-client'] });
  const code = result.outputFiles[0]!.contents;
  return { minified: code.byteLength, gzipped: gzipSync(code, { level: 9 }).byteLength };
}

function emitDeclarations(outDir: string): void {
  const program = ts.createProgram([entry], {
    declaration: true,
    emitDeclarationOnly: true,
    outDir,
    rootDir: path.join(clientRoot, 'src'),
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    skipLibCheck: true,
    types: ['node'],
  });
  const result = program.emit();
  const errors = ts.getPreEmitDiagnostics(program).concat(result.diagnostics).filter((d) => d.category === ts.DiagnosticCategory.Error);
  if (errors.length) throw new Error(ts.formatDiagnostics(errors, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => clientRoot, getNewLine: () => '\n' }));
}

/**
 * The reference web client (core/client/web) into <outDir>/web: its app.ts compiled on its own, with
 * the library import pointed at the browser bundle it sits next to (the page loads that bundle, so
 * the web client runs on exactly what the package publishes), plus the static files.
 */
async function buildWebClient(outDir: string): Promise<void> {
  const webDir = path.join(clientRoot, 'web');
  const out = path.join(outDir, 'web');
  fs.mkdirSync(out, { recursive: true });
  const browserBundle = 'switchboard-client.browser.js';
  const onBundle: Plugin = {
    name: 'library-from-browser-bundle',
    setup(b) {
      b.onResolve({ filter: /^\.\.\/src(\/index)?$/ }, () => ({ path: `./${browserBundle}`, external: true }));
    },
  };
  await build({ entryPoints: [path.join(webDir, 'app.ts')], bundle: true, format: 'esm', platform: 'browser', target: 'es2020', sourcemap: true, logLevel: 'warning', plugins: [onBundle], outfile: path.join(out, 'app.js') });
  for (const file of ['index.html', 'style.css']) fs.copyFileSync(path.join(webDir, file), path.join(out, file));
  for (const file of [browserBundle, `${browserBundle}.map`]) fs.copyFileSync(path.join(outDir, file), path.join(out, file));
}

export async function buildClient(outDir = path.join(clientRoot, 'dist')): Promise<{ minified: number; gzipped: number }> {
  fs.rmSync(outDir, { recursive: true, force: true });
  await build({ ...common, format: 'esm', platform: 'neutral', external: ['socket.io-client'], outfile: path.join(outDir, 'index.mjs') });
  await build({ ...common, format: 'cjs', platform: 'node', external: ['socket.io-client'], outfile: path.join(outDir, 'index.cjs') });
  await build({ ...common, format: 'esm', platform: 'browser', minify: true, outfile: path.join(outDir, 'switchboard-client.browser.js') });
  emitDeclarations(path.join(outDir, 'types'));
  await buildWebClient(outDir);
  return measureBundle();
}

if (require.main === module) {
  buildClient().then(
    ({ minified, gzipped }) => {
      const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
      const verdict = gzipped <= sizeBudgetBytes ? 'within' : 'OVER';
      console.error(`@switchboard/client built in core/client/dist (ESM, CJS, browser, .d.ts; the reference web client in dist/web)`);
      console.error(`bundle size without socket.io-client: ${kb(minified)} minified, ${kb(gzipped)} gzipped — ${verdict} the ${kb(sizeBudgetBytes)} budget`);
      if (gzipped > sizeBudgetBytes) process.exitCode = 1;
    },
    (error: unknown) => {
      console.error(`client build failed: ${error instanceof Error ? error.message : String(error)}\nFix the error above, then run: npx tsx core/client/build.ts`);
      process.exitCode = 1;
    },
  );
}

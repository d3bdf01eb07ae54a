// TypeScript → CommonJS for jest, with the esbuild that tsx already uses. Pure transpilation:
// type checking is `npm run build`. (SWC's jest transform was dropped: its platform binaries are
// not all on the registry mirror, which makes `npm ci` reject the lock file.)
const { transformSync } = require('esbuild');

module.exports = {
  process(source, filename) {
    const { code, map } = transformSync(source, {
      loader: 'ts',
      format: 'cjs',
      target: 'node20',
      sourcemap: 'external',
      sourcefile: filename,
      sourcesContent: false,
    });
    return { code, map };
  },
};

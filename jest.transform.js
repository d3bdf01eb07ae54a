// TypeScript → CommonJS for jest, with the esbuild that tsx already uses. Pure transpilation:
// type checking is `npm run build`. (SWC's jest transform was dropped: its platform binaries are
// not all on the registry mirror, which makes `npm ci` reject the lock file.)
const { transformSync } = require('esbuild');

const crypto = require('node:crypto');
const fs = require('node:fs');

const selfHash = crypto.createHash('sha256').update(fs.readFileSync(__filename)).digest('hex');

module.exports = {
  // Part of jest's transform cache key, so editing this file invalidates cached output.
  getCacheKey(source, filename) {
    return crypto.createHash('sha256').update(selfHash).update(filename).update(source).digest('hex');
  },
  process(source, filename) {
    const { code, map } = transformSync(source, {
      loader: 'ts',
      format: 'cjs',
      target: 'node20',
      sourcemap: 'external',
      sourcefile: filename,
      sourcesContent: false,
      // jest's CommonJS runtime has no import(); esbuild turns it into require.
      supported: { 'dynamic-import': false },
    });
    return { code, map };
  },
};

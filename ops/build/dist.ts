import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../services/paths';
import { compileTree } from './compile';
import { imageFolders } from './image';

/**
 * `npm run build:dist`: the production JavaScript in dist/ (the layout of the repository:
 * dist/core/src/main.js, dist/ops/cli/main.js) plus the package files, the same tree the image
 * carries. Run it with `node dist/core/src/main.js` (node_modules is found one level up).
 */
if (require.main === module) {
  const outDir = path.join(repoRoot, 'dist');
  fs.rmSync(outDir, { recursive: true, force: true });
  const result = compileTree(repoRoot, outDir, imageFolders);
  for (const file of ['package.json', 'package-lock.json']) fs.copyFileSync(path.join(repoRoot, file), path.join(outDir, file));
  console.error(`dist/: ${result.files} files compiled in ${result.ms} ms. Run: node dist/core/src/main.js`);
}

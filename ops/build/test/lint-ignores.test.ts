import fs from 'node:fs';
import path from 'node:path';
import { runSync } from '../../process';

/**
 * Build outputs never break lint (issue 26): `npm run build:dist` writes dist/, and `npm run lint`, the
 * preflight's lint item and `npm test` lint the whole tree. Every git-ignored tree must be ignored by
 * eslint too (checked from .gitignore, so a new generated tree cannot be forgotten in one of the two).
 */
const root = path.join(__dirname, '..', '..', '..');

/** eslint's own answer (the CLI, as `npm run lint` runs it): `--print-config` prints `undefined` for an ignored path. */
const ignored = (file: string) => runSync(path.join(root, 'node_modules', '.bin', 'eslint'), ['--print-config', file], { cwd: root }).stdout.trim() === 'undefined';

test('every directory .gitignore ignores is ignored by eslint', () => {
  const dirs = fs.readFileSync(path.join(root, '.gitignore'), 'utf8').split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#') && !line.startsWith('!') && line.endsWith('/'))
    .map((line) => line.replace(/^\//, '').replace(/\/$/, ''));
  expect(dirs).toContain('dist');
  const linted = [];
  for (const dir of dirs) {
    for (const file of [`${dir}/ops/cli/main.js`]) if (!ignored(file)) linted.push(file);
  }
  expect(linted).toEqual([]);
});

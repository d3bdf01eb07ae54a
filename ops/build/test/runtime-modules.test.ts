import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../../services/paths';
import { compileTree } from '../compile';
import { apiDocsAssets, apiDocsRendererPackage } from '../../../core/src/http/api-docs';
import { imageFolders } from '../image';
import { copyProductionPackages } from '../production-deps';
import { imageEntryPoints, unresolvedRuntimeModules } from '../runtime-modules';

/** The image's context as `ops build` stages it, without podman: compiled tree plus production packages. */
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'runtime-modules-'));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

const write = (root: string, file: string, text: string) => {
  fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
  fs.writeFileSync(path.join(root, file), text);
};

test('everything the core, the ops dispatcher and the backup CronJobs require is a production package', () => {
  const app = path.join(work, 'app');
  compileTree(repoRoot, app, imageFolders);
  copyProductionPackages(repoRoot, app);
  expect(unresolvedRuntimeModules(app)).toEqual([]);
  // The check reads what it claims to: without the process layer's zx the dispatcher cannot start.
  fs.renameSync(path.join(app, 'node_modules', 'zx'), path.join(work, 'zx'));
  const missing = unresolvedRuntimeModules(app);
  expect(missing).toEqual(expect.arrayContaining([{ module: 'zx', chain: ['ops/cli/main.js', 'ops/process/index.js', 'ops/process/run.js'] }]));
  expect(new Set(missing.map((m) => m.module))).toEqual(new Set(['zx'])); // every file of the process layer that needs it, nothing else
  fs.renameSync(path.join(work, 'zx'), path.join(app, 'node_modules', 'zx'));
  // The API docs' renderer files are served from node_modules, found by require.resolve: the image carries them.
  for (const file of apiDocsAssets) expect(fs.statSync(path.join(app, 'node_modules', apiDocsRendererPackage, file)).size).toBeGreaterThan(0);
  fs.renameSync(path.join(app, 'node_modules', apiDocsRendererPackage), path.join(work, apiDocsRendererPackage));
  expect(unresolvedRuntimeModules(app)).toEqual([{ module: `${apiDocsRendererPackage}/package.json`, chain: ['core/src/main.js', 'core/src/server.js', 'core/src/http/app.js', 'core/src/http/api-docs.js'] }]);
});

test('follows requires in functions and scoped names, not the lazily loaded command modules, and never the packages above the context', () => {
  const app = path.join(work, 'fake', 'app');
  write(path.join(work, 'fake'), 'node_modules/yaml/package.json', '{}'); // above app/: does not count
  write(app, 'node_modules/@aws-sdk/client-s3/package.json', '{}');
  write(app, 'core/src/main.js', 'require("node:fs"); require("fs/promises");');
  write(app, 'ops/cli/main.js', 'require("./registry");');
  write(app, 'ops/cli/registry.js', 'const deploy = () => require("../deploy/commands");');
  write(app, 'ops/deploy/commands.js', 'require("esbuild");');
  write(app, 'ops/backup/commands.js', 'const s3 = () => require("./store");');
  write(app, 'ops/backup/store.js', 'function open() { return [require("@aws-sdk/client-s3"), require("yaml")]; } require.resolve("@aws-sdk/client-s3/gone.js");');
  expect(unresolvedRuntimeModules(app)).toEqual([
    { module: 'yaml', chain: ['ops/backup/commands.js', 'ops/backup/store.js'] },
    { module: '@aws-sdk/client-s3/gone.js', chain: ['ops/backup/commands.js', 'ops/backup/store.js'] }, // require.resolve needs the file
  ]);
  expect(() => unresolvedRuntimeModules(app, ['ops/gone.js'])).toThrow('update imageEntryPoints');
  expect(imageEntryPoints).toContain('ops/backup/commands.js');
});

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runSync } from '../../process';
import { repoRoot } from '../../services/paths';
import { OpsError } from '../../cli/output';
import { compileTree } from '../../build/compile';

export interface BuildInfo {
  dir: string;
  gitSha: string;
  dirty: boolean;
  ref: string;
  builtAt: string;
  version: string;
}

const git = (args: string[]) => runSync('git', args, { cwd: repoRoot, timeoutMs: 60_000 }).stdout.trim();

/** What is inside a build: the core's sources, and the package files that pin its dependencies. */
const buildPaths = ['core/src', 'package.json', 'package-lock.json', 'tsconfig.json'];

/** The version a build would get: short git sha (+ `-dirty` for uncommitted changes under `paths`) and build time. */
export function resolveSource(ref: string | undefined, paths: string[] = buildPaths): { gitSha: string; dirty: boolean; ref: string } {
  if (ref) {
    let sha: string;
    try {
      sha = git(['rev-parse', '--verify', '--short=10', `${ref}^{commit}`]);
    } catch {
      throw new OpsError(`git ref "${ref}" does not name a commit`, 'git log --oneline | head   # pick a commit, then: ops deploy --version <sha>', 2);
    }
    return { gitSha: sha, dirty: false, ref };
  }
  const sha = git(['rev-parse', '--short=10', 'HEAD']);
  const dirty = git(['status', '--porcelain', '--', ...paths]) !== '';
  return { gitSha: sha, dirty, ref: 'working tree' };
}

/**
 * Builds an immutable release directory: a copy of the core's sources (from the working tree, or
 * `git archive <ref>`) compiled to JavaScript beside them (ops/build/compile.ts, the image's build),
 * the package files, a node_modules link to the repository's dependencies, and a manifest. Files are
 * made read-only; the core runs from here with plain `node` (no TypeScript loader), never from core/.
 */
export function buildRelease(dir: string, ref: string | undefined, now = new Date()): BuildInfo {
  const source = resolveSource(ref);
  const builtAt = now.toISOString();
  const stamp = builtAt.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const version = `${source.gitSha}${source.dirty ? '-dirty' : ''}-${stamp}`;
  fs.mkdirSync(dir, { recursive: true });
  if (ref) {
    const paths = buildPaths.filter((p) => p !== 'package-lock.json' || git(['ls-tree', '--name-only', source.gitSha, p]) !== '');
    const archive = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-build-')), 'source.tar');
    try {
      git(['archive', '--format=tar', '-o', archive, source.gitSha, '--', ...paths]);
      runSync('tar', ['-x', '-f', archive, '-C', dir], { timeoutMs: 5 * 60_000 });
    } finally {
      fs.rmSync(path.dirname(archive), { recursive: true, force: true });
    }
  } else {
    for (const p of buildPaths) {
      const from = path.join(repoRoot, p);
      if (fs.existsSync(from)) fs.cpSync(from, path.join(dir, p), { recursive: true });
    }
  }
  compileTree(dir, dir, ['core/src']);
  fs.symlinkSync(path.join(repoRoot, 'node_modules'), path.join(dir, 'node_modules'));
  const info: BuildInfo = { dir, ...source, builtAt, version };
  fs.writeFileSync(path.join(dir, 'build.json'), `${JSON.stringify(info, null, 2)}\n`);
  makeReadOnly(dir);
  return info;
}

function makeReadOnly(dir: string): void {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isSymbolicLink()) continue;
    if (entry.isDirectory()) makeReadOnly(full);
    else fs.chmodSync(full, 0o444);
  }
}

/** The compiled entry a release runs (`node <build>/core/src/main.js`). */
export const entryPoint = (buildDir: string): string => path.join(buildDir, 'core', 'src', 'main.js');

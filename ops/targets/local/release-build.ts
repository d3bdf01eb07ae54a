import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
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

const git = (args: string[]) => execFileSync('git', args, { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

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
    const archive = execFileSync('git', ['archive', '--format=tar', source.gitSha, '--', ...buildPaths.filter((p) => p !== 'package-lock.json' || git(['ls-tree', '--name-only', source.gitSha, p]) !== '')], { cwd: repoRoot, maxBuffer: 256 * 1024 * 1024 });
    execFileSync('tar', ['-x', '-C', dir], { input: archive });
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

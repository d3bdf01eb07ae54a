import fs from 'node:fs';
import path from 'node:path';

/**
 * A build lock held for a whole multi-command build (go-binaries.ts wraps a single `go install` in
 * flock; the Kubernetes toolchain builds in several commands, so it holds this one across them).
 * An atomic mkdir of `<dir>/build.lock.d` with the owner's pid inside; a lock whose owner is gone (a
 * killed run) is taken over. A second run waits, printing who holds it, then finds the binary built.
 */
export async function withBuildLock<T>(dir: string, log: (line: string) => void, fn: () => Promise<T>, waitMs = 90 * 60_000): Promise<T> {
  fs.mkdirSync(dir, { recursive: true });
  const lock = path.join(dir, 'build.lock.d');
  const owner = path.join(lock, 'pid');
  const deadline = Date.now() + waitMs;
  let announced = 0;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      fs.writeFileSync(owner, String(process.pid));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const pid = Number(readOr(owner, '0'));
    if (!pid || !alive(pid)) {
      // A killed build (or one that died between mkdir and writing its pid): take it over.
      if (!pid && Date.now() - mtime(lock) < 5_000) { await sleep(500); continue; }
      fs.rmSync(lock, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`the build lock ${lock} is held by pid ${pid} for more than ${Math.round(waitMs / 60_000)} min; if that process is stuck, stop it (kill ${pid}) and run the step again`);
    if (Date.now() - announced > 60_000) {
      log(`  waiting for the build in progress (pid ${pid}, lock ${lock})`);
      announced = Date.now();
    }
    await sleep(2_000);
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const readOr = (file: string, fallback: string) => { try { return fs.readFileSync(file, 'utf8').trim(); } catch { return fallback; } };
const mtime = (file: string) => { try { return fs.statSync(file).mtimeMs; } catch { return 0; } };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

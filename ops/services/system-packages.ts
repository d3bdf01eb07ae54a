import { execFileSync, spawnSync } from 'node:child_process';

let aptUpdated = false;

/**
 * Makes sure a Debian package's command is present: installs it with apt-get when we are root,
 * otherwise stops with the exact command a person should run.
 */
export function ensureDebianCommand(command: string, debianPackage: string): string {
  const found = resolveCommand(command);
  if (found) return found;
  if (process.getuid?.() !== 0) {
    throw new Error(`${command} is not installed. Install it with: sudo apt-get install -y ${debianPackage}`);
  }
  console.error(`[services] ${command} missing: installing Debian package ${debianPackage} ...`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (!aptUpdated) {
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    aptUpdated = true;
  }
  execFileSync('apt-get', ['install', '-y', '-qq', debianPackage], { stdio: 'inherit', env });
  const installed = resolveCommand(command);
  if (!installed) throw new Error(`installed ${debianPackage} but ${command} is still not found; check apt-get's output above`);
  return installed;
}

function resolveCommand(command: string): string | undefined {
  // Debian puts nginx and redis-server in /usr/sbin, which is not on every PATH.
  for (const candidate of [command, `/usr/sbin/${command}`, `/usr/bin/${command}`]) {
    const result = spawnSync('sh', ['-c', `command -v ${candidate}`], { encoding: 'utf8' });
    if (result.status === 0 && result.stdout.trim()) return result.stdout.trim();
  }
  return undefined;
}

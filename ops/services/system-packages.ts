import { findCommand, run } from '../process';

/** A command the tests or the local services run, and the Debian package that provides it. */
export interface DebianCommand {
  command: string;
  package: string;
}

/**
 * Every Debian package the provisioning step installs (as root) before the first test: one line
 * each. A command missing here is reported with the install line below, never installed mid-test.
 */
export const debianCommands: DebianCommand[] = [
  { command: 'java', package: 'openjdk-17-jdk-headless' }, // mongo-java-server (Launcher.java runs in source mode, needs the JDK)
  { command: 'mvn', package: 'maven' }, // fetches mongo-java-server's jars
  { command: 'redis-server', package: 'redis-server' },
  { command: 'nginx', package: 'nginx' },
  { command: 'prometheus', package: 'prometheus' }, // the alert drill
  { command: 'promtool', package: 'prometheus' }, // alert rule unit tests
  { command: 'prometheus-alertmanager', package: 'prometheus-alertmanager' }, // routing/inhibition tests, the fire drill
  { command: 'amtool', package: 'prometheus-alertmanager' }, // amtool check-config, config routes test
  { command: 'python3', package: 'python3-venv' }, // the pinned Python checkers' virtualenvs
  { command: 'setpriv', package: 'util-linux' }, // ties service processes to the test run's life
  { command: 'flock', package: 'util-linux' }, // one build at a time when runs share the cache
  { command: 'podman', package: 'podman' }, // ops build and the image test (ops/build/podman.ts)
  { command: 'buildah', package: 'buildah' },
  { command: 'runc', package: 'runc' }, // crun cannot run on this host's hybrid cgroups
  { command: 'debootstrap', package: 'debootstrap' }, // the local base image's root filesystem
  { command: 'etcd', package: 'etcd-server' }, // the local Kubernetes cluster's store (ops/services/kube-cluster.ts)
  { command: 'openssl', package: 'openssl' }, // its certificates and service-account keys
  { command: 'chromium', package: 'chromium' }, // the reference web client's browser test (puppeteer-core drives it; no browser download)
];

export const aptInstallLine = (packages: string[]) => `sudo apt-get install -y ${[...new Set(packages)].join(' ')}`;

/**
 * Absolute path of a provisioned command. Never installs: a missing command is a provisioning
 * error, reported with the command that installs it.
 */
export function requireCommand(command: string, debianPackage = debianCommands.find((c) => c.command === command)?.package): string {
  const found = findCommand(command);
  if (found) return found;
  throw new Error(`${command} is not installed. Install it with \`npm run services -- provision\` (as root), or: ${aptInstallLine([debianPackage ?? command])}`);
}

/** @deprecated the name of {@link requireCommand} before provisioning moved ahead of the tests. */
export const ensureDebianCommand = requireCommand;

/** The listed packages whose command is missing. */
export const missingDebianPackages = (list: DebianCommand[] = debianCommands): string[] =>
  [...new Set(list.filter((c) => !findCommand(c.command)).map((c) => c.package))];

/** Installs packages with apt-get (root only; otherwise fails naming the line to run). */
export async function installDebianPackages(packages: string[]): Promise<void> {
  if (packages.length === 0) return;
  if (process.getuid?.() !== 0) throw new Error(`not root, so cannot install ${packages.join(', ')}. Run: ${aptInstallLine(packages)}`);
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  // Wait for another apt-get (a parallel run) instead of failing on dpkg's lock.
  const lockWait = ['-o', 'DPkg::Lock::Timeout=600'];
  const next = `check the Debian mirror is reachable, then run: ${aptInstallLine(packages)}`;
  await run('apt-get', [...lockWait, 'update', '-qq'], { env, timeoutMs: 10 * 60_000, next });
  await run('apt-get', [...lockWait, 'install', '-y', '-qq', '--no-install-recommends', ...packages], { env, timeoutMs: 20 * 60_000, stream: true, next });
}

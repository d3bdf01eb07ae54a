import fs from 'node:fs';
import path from 'node:path';
import { run } from '../process';
import { cacheDir, varDir } from './paths';
import { freePort, waitForPort } from './ports';
import { spawnService, type RunningService } from './service-process';
import { requireCommand } from './system-packages';
import { versions } from './versions';

const pomDir = path.join(__dirname, 'mongo');
const jarsDir = path.join(cacheDir, `mongo-java-server-${versions.mongoJavaServer}`, 'jars');
const marker = path.join(jarsDir, '.complete');

export const areMongoJarsProvisioned = () => fs.existsSync(marker);

/** Fetches mongo-java-server's jars from Maven Central into the cache (a provisioning step). */
export async function fetchMongoJars(): Promise<void> {
  fs.mkdirSync(jarsDir, { recursive: true });
  // -B and --no-transfer-progress: plain lines, no ANSI colours or progress bars in logs and terminals.
  await run(requireCommand('mvn'), ['-q', '-B', '--no-transfer-progress', '-Dstyle.color=never', '-f', path.join(pomDir, 'pom.xml'),
    `-Dmongo-java-server.version=${versions.mongoJavaServer}`, 'dependency:copy-dependencies', `-DoutputDirectory=${jarsDir}`], {
    timeoutMs: 15 * 60_000,
    stream: true,
    next: 'check that Maven Central is reachable (mvn uses ~/.m2/settings.xml for a mirror), then run: npm run services -- provision',
  });
  fs.writeFileSync(marker, new Date().toISOString());
}

/** The provisioned jars directory; never downloads (fails naming the provisioning command). */
export function requireMongoJars(): string {
  if (areMongoJarsProvisioned()) return jarsDir;
  throw new Error(`mongo-java-server ${versions.mongoJavaServer} jars are not provisioned (${jarsDir}). Fetch them with: npm run services -- provision`);
}

/** @deprecated the name of {@link requireMongoJars} before provisioning moved ahead of the tests. */
export const ensureMongoJars = requireMongoJars;

export interface MongoOptions {
  /** 'memory' for tests and load runs; 'h2' keeps data in var/mongo for `npm start`. */
  storage: 'memory' | 'h2';
  dataFile?: string;
  logDir?: string;
}

/**
 * A MongoDB endpoint: the server named by MONGODB_URI when set (nothing is started), otherwise
 * mongo-java-server on a free loopback port.
 */
export async function startMongo(options: MongoOptions): Promise<RunningService> {
  const external = process.env.MONGODB_URI;
  if (external) return { name: 'mongodb (external, MONGODB_URI)', address: external, stop: async () => undefined };
  const jars = requireMongoJars();
  const port = await freePort();
  const dataFile = options.dataFile ?? path.join(varDir, 'mongo', 'switchboard.mv');
  if (options.storage === 'h2') fs.mkdirSync(path.dirname(dataFile), { recursive: true });
  const logDir = options.logDir ?? path.join(varDir, 'log');
  const address = `mongodb://127.0.0.1:${port}`;
  return spawnService({
    name: `mongo-java-server (${options.storage === 'h2' ? `H2 ${dataFile}` : 'memory'})`,
    command: requireCommand('java'),
    args: ['-Xmx4g', '-XX:+UseSerialGC', '-cp', `${jars}/*`, path.join(pomDir, 'Launcher.java'), String(port), options.storage === 'h2' ? dataFile : 'memory'],
    logFile: path.join(logDir, `mongo-${port}.log`),
    waitReady: () => waitForPort(port, 60_000),
    address,
    stdinPipe: true,
  });
}

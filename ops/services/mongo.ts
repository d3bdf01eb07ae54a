import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { cacheDir, varDir } from './paths';
import { freePort, waitForPort } from './ports';
import { spawnService, type RunningService } from './service-process';
import { ensureDebianCommand } from './system-packages';

const pomDir = path.join(__dirname, 'mongo');
const jarsDir = path.join(cacheDir, 'mongo-java-server-1.47.0', 'jars');

/** Fetches mongo-java-server's jars from Maven Central once; later calls reuse the cache. */
export function ensureMongoJars(): string {
  const marker = path.join(jarsDir, '.complete');
  if (fs.existsSync(marker)) return jarsDir;
  ensureDebianCommand('java', 'openjdk-17-jre-headless');
  ensureDebianCommand('mvn', 'maven');
  console.error(`[services] fetching mongo-java-server 1.47.0 jars into ${jarsDir} (once) ...`);
  fs.mkdirSync(jarsDir, { recursive: true });
  try {
    execFileSync('mvn', ['-q', '-B', '-f', path.join(pomDir, 'pom.xml'), 'dependency:copy-dependencies', `-DoutputDirectory=${jarsDir}`], {
      stdio: 'inherit',
    });
  } catch (error) {
    throw new Error(`could not fetch the MongoDB-compatible server's jars (${(error as Error).message}). ` +
      `Check that Maven Central is reachable, then run: npm run services -- up`, { cause: error });
  }
  fs.writeFileSync(marker, new Date().toISOString());
  return jarsDir;
}

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
  const jars = ensureMongoJars();
  const port = await freePort();
  const dataFile = options.dataFile ?? path.join(varDir, 'mongo', 'switchboard.mv');
  if (options.storage === 'h2') fs.mkdirSync(path.dirname(dataFile), { recursive: true });
  const logDir = options.logDir ?? path.join(varDir, 'log');
  const address = `mongodb://127.0.0.1:${port}`;
  return spawnService({
    name: `mongo-java-server (${options.storage === 'h2' ? `H2 ${dataFile}` : 'memory'})`,
    command: 'java',
    args: ['-Xmx4g', '-XX:+UseSerialGC', '-cp', `${jars}/*`, path.join(pomDir, 'Launcher.java'), String(port), options.storage === 'h2' ? dataFile : 'memory'],
    logFile: path.join(logDir, `mongo-${port}.log`),
    waitReady: () => waitForPort(port, 60_000),
    address,
    stdinPipe: true,
  });
}

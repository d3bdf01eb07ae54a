import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { MongoClient, type Db } from 'mongodb';
import { createOutput } from '../../cli/output';
import type { CommandContext } from '../../cli/types';
import type { InstanceDoc, SessionRevocationDoc } from '../../../core/src/store/documents';
import { collectionNames } from '../../../core/src/store/mongo-store';
import { sessionsRepository } from '../../../core/src/store/sessions-repository';
import { handlers } from '../commands';
import { contentDigest, indexDefinitions, listUserCollections } from '../mongo';
import { openBackupStore } from '../open-store';
import type { BackupStore } from '../storage';

export const uniqueDb = (label: string): string => `bk_${label}_${randomBytes(4).toString('hex')}`;

export async function connectTestMongo(): Promise<MongoClient> {
  const uri = process.env.TEST_MONGODB_URI;
  if (!uri) throw new Error('TEST_MONGODB_URI is not set (jest global setup starts the local server)');
  const client = new MongoClient(uri);
  await client.connect();
  return client;
}

export function tempDir(label: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `switchboard-${label}-`));
}

/** Per collection: count, content hash and index definitions, as the database holds them now. */
export async function snapshot(db: Db): Promise<Record<string, { documents: number; contentSha256: string; indexes: unknown[] }>> {
  const out: Record<string, { documents: number; contentSha256: string; indexes: unknown[] }> = {};
  for (const { name } of await listUserCollections(db)) {
    const digest = await contentDigest(db, name);
    out[name] = { documents: digest.documents, contentSha256: digest.contentSha256, indexes: await indexDefinitions(db, name) };
  }
  return out;
}

/** Runs one of ops/backup/commands.ts's handlers the way the ops CLI would, capturing stdout/stderr. */
export async function runCommand(name: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string; json?: any }> {
  let stdout = '';
  let stderr = '';
  const out = createOutput({ stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) } }, args.includes('--json'));
  const ctx: CommandContext = { path: name.split(' '), args, values: {}, positionals: [], out, env };
  let code: number;
  try {
    code = (await handlers[name]!(ctx)) ?? 0;
  } catch (error) {
    stderr += `error: ${(error as Error).message}\n${(error as { next?: string }).next ?? ''}`;
    code = (error as { exitCode?: number }).exitCode ?? 1;
  }
  let json: any;
  if (args.includes('--json') && stdout.trim()) json = JSON.parse(stdout);
  return { code, stdout, stderr, json };
}

/** Silences progress in tests unless BACKUP_TEST_PROGRESS=1. */
export const quiet = process.env.BACKUP_TEST_PROGRESS === '1' ? { write: (l: string) => process.stderr.write(`${l}\n`) } : undefined;

/** The core's own sessions repository over a database (revocations and the instances' registrations), as the core writes them. */
export const sessionsOf = (db: Db) => sessionsRepository({
  sessionRevocations: db.collection<SessionRevocationDoc>(collectionNames.sessionRevocations),
  instances: db.collection<InstanceDoc>(collectionNames.instances),
});

/**
 * A test file's MongoDB client, backup directory and ops state directory (OPS_STATE_DIR, where audit
 * records go): opened before its tests, closed and removed after them.
 */
export function backupTestBed(label: string): { readonly client: MongoClient; readonly backupDir: string; readonly stateDir: string; store(): BackupStore } {
  let client: MongoClient;
  let backupDir: string;
  let stateDir: string;
  beforeAll(async () => {
    client = await connectTestMongo();
    backupDir = tempDir(`${label}-backups`);
    stateDir = tempDir(`${label}-state`);
    process.env.OPS_STATE_DIR = stateDir;
  }, 60_000);
  afterAll(async () => {
    await client.close();
    fs.rmSync(backupDir, { recursive: true, force: true });
    fs.rmSync(stateDir, { recursive: true, force: true });
  });
  return {
    get client() { return client; },
    get backupDir() { return backupDir; },
    get stateDir() { return stateDir; },
    store: () => openBackupStore(`dir:${backupDir}`),
  };
}

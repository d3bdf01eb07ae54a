import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BackupError } from './errors';
import type { BackupStore, StoredObject } from './storage';

const PARTIAL = '.partial';

/** A directory as backup storage: objects are files, written as `<name>.partial` and renamed when complete. */
export class DirStore implements BackupStore {
  readonly description: string;

  constructor(private readonly root: string) {
    this.description = `dir:${root}`;
  }

  async check(): Promise<void> {
    try {
      await fs.promises.mkdir(this.root, { recursive: true });
      await fs.promises.access(this.root, fs.constants.W_OK | fs.constants.R_OK);
    } catch (error) {
      throw new BackupError('storage', `backup directory ${this.root} is not usable: ${(error as Error).message}`, undefined, { cause: error });
    }
  }

  private file(key: string): string {
    const file = path.resolve(this.root, key);
    if (!file.startsWith(path.resolve(this.root) + path.sep)) throw new BackupError('usage', `bad object key ${key}`);
    return file;
  }

  async put(key: string, body: Readable): Promise<void> {
    const file = this.file(key);
    await fs.promises.mkdir(path.dirname(file), { recursive: true });
    const partial = file + PARTIAL;
    try {
      await pipeline(body, fs.createWriteStream(partial));
      await fs.promises.rename(partial, file);
    } catch (error) {
      await fs.promises.rm(partial, { force: true });
      throw error;
    }
  }

  async putText(key: string, text: string): Promise<void> {
    const file = this.file(key);
    await fs.promises.mkdir(path.dirname(file), { recursive: true });
    await fs.promises.writeFile(file + PARTIAL, text);
    await fs.promises.rename(file + PARTIAL, file);
  }

  async get(key: string): Promise<Readable> {
    const file = this.file(key);
    try {
      await fs.promises.access(file, fs.constants.R_OK);
    } catch {
      throw new BackupError('not_found', `${this.description}/${key} does not exist`);
    }
    return fs.createReadStream(file, { highWaterMark: 1 << 20 });
  }

  async getText(key: string): Promise<string | undefined> {
    try {
      return await fs.promises.readFile(this.file(key), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async list(): Promise<StoredObject[]> {
    const out: StoredObject[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries: fs.Dirent[];
      try {
        entries = await fs.promises.readdir(dir, { withFileTypes: true });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw error;
      }
      for (const entry of entries) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) await walk(full);
        else if (entry.isFile()) {
          const stat = await fs.promises.stat(full);
          out.push({ key: path.relative(this.root, full).split(path.sep).join('/'), size: stat.size, lastModified: stat.mtime });
        }
      }
    };
    await walk(this.root);
    return out;
  }

  async delete(keys: string[]): Promise<void> {
    const dirs = new Set<string>();
    for (const key of keys) {
      const file = this.file(key);
      await fs.promises.rm(file, { force: true });
      dirs.add(path.dirname(file));
    }
    for (const dir of dirs) {
      if (dir !== path.resolve(this.root)) await fs.promises.rmdir(dir).catch(() => undefined);
    }
  }
}

/**
 * Times MongoDB operations at the collection API for `chat_mongodb_operation_duration_seconds`, instead
 * of the driver's command monitoring. With `monitorCommands` on, the driver materialises every reply a
 * second time for its CommandSucceededEvent (connection.js: `document.toObject()`) and copies every
 * command for CommandStartedEvent; the issue 23 profile put that at 15-23 % of the core's CPU per read
 * request (list, history). Labels keep the wire command's name (`find`, `insert`, `update`,
 * `findAndModify`, `delete`, `aggregate`, ...), so dashboards, alerts and tests read the same series;
 * a cursor is timed once per `toArray()` (its getMores included), and the duration includes decoding.
 */
import type { Collection, Db, Document } from 'mongodb';

export type OnCommand = (command: string, seconds: number, ok: boolean) => void;

/** Collection methods that return a promise, by the command they send. */
const promiseOps: Record<string, string> = {
  findOne: 'find',
  insertOne: 'insert',
  insertMany: 'insert',
  updateOne: 'update',
  updateMany: 'update',
  replaceOne: 'update',
  findOneAndUpdate: 'findAndModify',
  findOneAndReplace: 'findAndModify',
  findOneAndDelete: 'findAndModify',
  deleteOne: 'delete',
  deleteMany: 'delete',
  countDocuments: 'aggregate',
  estimatedDocumentCount: 'count',
  distinct: 'distinct',
  bulkWrite: 'bulkWrite',
  createIndex: 'createIndexes',
  createIndexes: 'createIndexes',
  drop: 'drop',
};
/** Methods that return a cursor: timed when the cursor is read with toArray(). */
const cursorOps: Record<string, string> = { find: 'find', aggregate: 'aggregate' };

async function timed<T>(command: string, on: OnCommand, run: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    const result = await run();
    on(command, (performance.now() - started) / 1000, true);
    return result;
  } catch (error) {
    on(command, (performance.now() - started) / 1000, false);
    throw error;
  }
}

function timedCursor<C extends { toArray(): Promise<unknown[]> }>(cursor: C, command: string, on: OnCommand): C {
  const toArray = cursor.toArray.bind(cursor);
  // An own property: sort()/limit()/project() return the same cursor, so the chain keeps it.
  cursor.toArray = () => timed(command, on, toArray);
  return cursor;
}

export function timedCollection<T extends Document>(collection: Collection<T>, on: OnCommand): Collection<T> {
  return new Proxy(collection, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      const fn = value as (...args: unknown[]) => unknown;
      if (typeof prop === 'string' && promiseOps[prop]) {
        const command = promiseOps[prop];
        return (...args: unknown[]) => timed(command, on, () => fn.apply(target, args) as Promise<unknown>);
      }
      if (typeof prop === 'string' && cursorOps[prop]) {
        const command = cursorOps[prop];
        return (...args: unknown[]) => timedCursor(fn.apply(target, args) as { toArray(): Promise<unknown[]> }, command, on);
      }
      return fn.bind(target);
    },
  });
}

/** Every collection this Db hands out (the store's and the jobs') is timed, and so is `db.command`. */
export function timeDb(db: Db, on: OnCommand): Db {
  const collection = db.collection.bind(db);
  const command = db.command.bind(db);
  db.collection = (<T extends Document>(name: string, options?: Parameters<Db['collection']>[1]) => timedCollection(collection<T>(name, options), on)) as Db['collection'];
  db.command = ((cmd: Document, options?: Parameters<Db['command']>[1]) => timed(Object.keys(cmd)[0] ?? 'command', on, () => command(cmd, options))) as Db['command'];
  return db;
}

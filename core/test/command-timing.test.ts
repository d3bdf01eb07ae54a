import { randomBytes } from 'node:crypto';
import { openStore, type Store } from '../src/store/mongo-store';

// chat_mongodb_operation_duration_seconds is fed from the collection API (store/command-timing.ts), not
// the driver's command monitoring: the labels must still name the wire command, and failures say so.
const mongo = process.env.TEST_MONGODB_URI;
(mongo ? describe : describe.skip)('MongoDB command timing', () => {
  const seen: { command: string; ok: boolean }[] = [];
  let store: Store;
  beforeAll(async () => {
    store = await openStore(mongo!, `cmdtiming_${randomBytes(4).toString('hex')}`, { poolSize: 2, hooks: { onCommand: (command, seconds, ok) => { expect(seconds).toBeGreaterThanOrEqual(0); seen.push({ command, ok }); } } });
  });
  afterAll(async () => {
    await store?.db.dropDatabase().catch(() => undefined);
    await store?.close();
  });

  it('names each operation by its command, once per call (a cursor once per toArray)', async () => {
    seen.length = 0;
    const c = store.db.collection<{ _id: string; n: number }>('timing');
    await c.insertOne({ _id: 'a', n: 1 });
    await c.insertMany([{ _id: 'b', n: 2 }, { _id: 'c', n: 3 }]);
    await c.findOne({ _id: 'a' });
    expect(await c.find({}).sort({ n: 1 }).limit(2).toArray()).toHaveLength(2);
    await c.updateOne({ _id: 'a' }, { $set: { n: 5 } });
    await c.findOneAndUpdate({ _id: 'b' }, { $inc: { n: 1 } });
    await c.deleteOne({ _id: 'c' });
    await store.ping();
    expect(seen).toEqual(['insert', 'insert', 'find', 'find', 'update', 'findAndModify', 'delete', 'ping'].map((command) => ({ command, ok: true })));
  });

  it('records a failed operation with ok=false and rethrows it unchanged', async () => {
    seen.length = 0;
    const c = store.db.collection<{ _id: string }>('timing');
    await expect(c.insertOne({ _id: 'a' })).rejects.toMatchObject({ code: 11000 });
    expect(seen).toEqual([{ command: 'insert', ok: false }]);
  });
});

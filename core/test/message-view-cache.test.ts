import { ObjectId } from 'mongodb';
import { messageViewCache } from '../src/chat/message-view-cache';
import { messageView, type ShownMessageDoc } from '../src/chat/views';

const conversationId = new ObjectId();
const doc = (seq: number): ShownMessageDoc => ({ _id: new ObjectId(), conversationId, seq, senderId: 'ann', clientMsgId: `c-${seq}`, text: `message ${seq}`, createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, seq)) });

/** A stand-in for the database's byIds: answers the ids it holds, in its own order, and counts what it was asked. */
function database(docs: ShownMessageDoc[]) {
  const held = new Map(docs.map((d) => [d._id.toHexString(), d]));
  const asked: string[][] = [];
  return {
    held,
    asked,
    load: async (ids: ObjectId[]) => {
      asked.push(ids.map((id) => id.toHexString()));
      return ids.map((id) => held.get(id.toHexString())).filter((d) => d !== undefined).reverse();
    },
  };
}

describe('message view cache', () => {
  it('reads only what it does not hold, and returns the page in the order of its keys', async () => {
    const docs = [1, 2, 3, 4].map(doc);
    const db = database(docs);
    const cache = messageViewCache(100);
    const first = await cache.viewsOf(docs.slice(0, 3), db.load);
    expect(first.map((v) => v.seq)).toEqual([1, 2, 3]);
    expect(first[0]).toMatchObject({ id: docs[0]!._id.toHexString(), conversationId: conversationId.toHexString(), text: 'message 1', createdAt: '2026-01-01T00:00:01.000Z' });
    const second = await cache.viewsOf(docs, db.load);
    expect(second.map((v) => v.seq)).toEqual([1, 2, 3, 4]);
    expect(db.asked).toEqual([docs.slice(0, 3).map((d) => d._id.toHexString()), [docs[3]!._id.toHexString()]]);
    await cache.viewsOf(docs, db.load);
    expect(db.asked).toHaveLength(2);
  });

  it('leaves out a message the database no longer holds when it is read', async () => {
    const docs = [1, 2, 3].map(doc);
    const db = database(docs);
    db.held.delete(docs[1]!._id.toHexString());
    const page = await messageViewCache(100).viewsOf(docs, db.load);
    expect(page.map((v) => v.seq)).toEqual([1, 3]);
  });

  it('does not serve a cached view whose seq is not the one listed (a copy stored again under a new seq after its seq was burned)', async () => {
    const moved = doc(5);
    const db = database([moved]);
    const cache = messageViewCache(100);
    expect((await cache.viewsOf([moved], db.load))[0]!.seq).toBe(5);
    db.held.set(moved._id.toHexString(), { ...moved, seq: 9 });
    const page = await cache.viewsOf([{ _id: moved._id, seq: 9 }], db.load);
    expect(page.map((v) => [v.id, v.seq])).toEqual([[moved._id.toHexString(), 9]]);
    expect(db.asked).toHaveLength(2);
    // Listed at 9 but moved on again before the content was read: left out rather than shown at a seq the listing did not give.
    db.held.set(moved._id.toHexString(), { ...moved, seq: 12 });
    expect(await messageViewCache(100).viewsOf([{ _id: moved._id, seq: 9 }], db.load)).toEqual([]);
  });

  it('serves a view put by the send path without reading, and stays within its bound (oldest out first)', async () => {
    const docs = [1, 2, 3].map(doc);
    const db = database(docs);
    const cache = messageViewCache(2);
    for (const d of docs) cache.put(messageView(d));
    expect(cache.size()).toBe(2);
    await cache.viewsOf(docs.slice(1), db.load);
    expect(db.asked).toEqual([]);
    await cache.viewsOf(docs.slice(0, 1), db.load);
    expect(db.asked).toEqual([[docs[0]!._id.toHexString()]]);
  });

  it('keeps every listed message on a page when storing the ones it read pushes its cached views out of a full cache', async () => {
    const docs = [1, 2, 3, 4, 5].map(doc);
    const db = database(docs);
    const cache = messageViewCache(3);
    // Full, with the page's first three messages the oldest entries: storing the two it lacks evicts two of them.
    for (const d of docs.slice(0, 3)) cache.put(messageView(d));
    const page = await cache.viewsOf(docs, db.load);
    expect(page.map((v) => v.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(db.asked).toEqual([[docs[3]!._id.toHexString(), docs[4]!._id.toHexString()]]);
    expect(cache.size()).toBe(3);
  });
});

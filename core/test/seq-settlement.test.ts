import { MongoClient, ObjectId } from 'mongodb';
import { createSendBatcher } from '../src/chat/send-batcher';
import { createSeqSettler } from '../src/chat/seq-settler';
import type { MessageDoc } from '../src/store/documents';
import type { InsertOutcome } from '../src/store/messages-repository';
import { seqsRepository } from '../src/store/seqs-repository';
import { sleep, startTestCore, testServicesEnv, type TestCore } from './harness';

/**
 * Issue 21 item 1: a client can tell "not yet" from "never". Reserved seqs that are never stored
 * get burned (tombstones in skipped_seqs) by the writer or the settler; history pages report
 * `skipped`, `settledSeq` and `lastSeq`; a seq that is only late is never reported skipped.
 */
const SETTLE_MS = 300;
let t: TestCore;
let mongo: MongoClient;
let convId: string;

beforeAll(async () => {
  t = await startTestCore({ SEQ_SETTLE_MS: String(SETTLE_MS) });
  mongo = await MongoClient.connect(testServicesEnv().MONGODB_URI);
  convId = (await t.api('ann', 'POST', '/api/conversations', { type: 'group', name: 'settle', memberIds: ['ben'] })).body.id;
});
afterAll(async () => {
  await t?.stop();
  await mongo?.close();
});

const db = () => mongo.db(t.config.MONGODB_DB);
const send = async (clientMsgId: string) => {
  const res = await t.api('ann', 'POST', `/api/conversations/${convId}/messages`, { clientMsgId, text: clientMsgId });
  expect(res.status).toBe(201);
  return res.body.seq as number;
};
const page = async (afterSeq: number) => (await t.api('ben', 'GET', `/api/conversations/${convId}/messages?afterSeq=${afterSeq}`)).body as { items: { seq: number }[]; skipped: number[]; settledSeq: number; lastSeq: number };
/** Reserve seqs the way an instance that then crashed would: `$inc` and nothing else. */
const reserve = async (count: number) => {
  const doc = await db().collection('conversations').findOneAndUpdate({ _id: new ObjectId(convId) }, { $inc: { lastSeq: count } }, { returnDocument: 'after' });
  return doc!.lastSeq as number;
};

describe('history page fields', () => {
  it('with every seq stored: settledSeq = lastSeq, nothing skipped', async () => {
    await send('a1');
    const last = await send('a2');
    expect(await page(0)).toMatchObject({ skipped: [], settledSeq: last, lastSeq: last });
  });
});

describe('the stored watermark follows the sends with no history read', () => {
  it('an instance\'s own allocations stored in full raise `settledSeq` in the database (one bulk write per tick)', async () => {
    const id = (await t.api('ann', 'POST', '/api/conversations', { type: 'group', name: 'raise', memberIds: ['ben'] })).body.id as string;
    for (const n of [1, 2, 3]) expect((await t.api('ann', 'POST', `/api/conversations/${id}/messages`, { clientMsgId: `r${n}`, text: 'x' })).status).toBe(201);
    let doc = await db().collection('conversations').findOne({ _id: new ObjectId(id) });
    for (let i = 0; i < 50 && (doc?.settledSeq ?? 0) < 3; i++) {
      await sleep(50);
      doc = await db().collection('conversations').findOne({ _id: new ObjectId(id) });
    }
    expect(doc).toMatchObject({ lastSeq: 3, settledSeq: 3 });
    // Counted like every other database call (the load reports' operations per message).
    const metrics = await (await fetch(`${t.core.metricsUrl}/metrics`)).text();
    expect(metrics).toMatch(/chat_mongodb_operation_duration_seconds_count\{[^}]*command="bulkWrite"[^}]*\} [1-9]/);
  });
});

describe('reserved seqs nobody stores (an instance SIGKILLed after its $inc)', () => {
  it('are "not yet" at first (above settledSeq, not skipped), then burned by the settler and reported skipped', async () => {
    const before = (await page(0)).lastSeq;
    const last = await reserve(2);
    const early = await page(before);
    expect(early).toMatchObject({ items: [], skipped: [], settledSeq: before, lastSeq: last });
    let settled = early;
    for (let i = 0; i < 50 && settled.settledSeq < last; i++) {
      await sleep(100);
      settled = await page(before);
    }
    expect(settled).toMatchObject({ items: [], skipped: [before + 1, before + 2], settledSeq: last, lastSeq: last });
    expect(await db().collection('skipped_seqs').countDocuments({ conversationId: new ObjectId(convId) })).toBe(2);
    // The next message takes the next seq, and the watermark goes on.
    const next = await send('after-burn');
    expect(next).toBe(last + 1);
    expect((await page(before)).settledSeq).toBe(next);
  });

  it('a seq stored late (within the settle delay) is never reported skipped', async () => {
    const before = (await page(0)).lastSeq;
    const seq = await reserve(1);
    const late = await page(before);
    expect(late.skipped).toEqual([]);
    expect(late.settledSeq).toBeLessThan(seq);
    await db().collection('messages').insertOne({ _id: new ObjectId(), conversationId: new ObjectId(convId), seq, senderId: 'ann', clientMsgId: 'late-writer', text: 'late', createdAt: new Date(0), terms: [] });
    await sleep(SETTLE_MS * 3);
    const after = await page(before);
    expect(after).toMatchObject({ skipped: [], settledSeq: seq, lastSeq: seq });
    expect(after.items.map((m) => m.seq)).toEqual([seq]);
    expect(await db().collection('skipped_seqs').countDocuments({ conversationId: new ObjectId(convId), seq })).toBe(0);
  });
});

describe('unreadCount leaves burned seqs out (they were never messages)', () => {
  it('listing and GET /conversations/:id count only stored messages above lastReadSeq', async () => {
    const id = (await t.api('ann', 'POST', '/api/conversations', { type: 'group', name: 'unread', memberIds: ['ben'] })).body.id as string;
    const post = async (clientMsgId: string) => expect((await t.api('ann', 'POST', `/api/conversations/${id}/messages`, { clientMsgId, text: clientMsgId })).status).toBe(201);
    await post('u1');
    await post('u2');
    // Two seqs reserved by a writer that dies ($inc only), burned by the settler (a reader's gap tells it).
    await db().collection('conversations').updateOne({ _id: new ObjectId(id) }, { $inc: { lastSeq: 2 } });
    for (let i = 0; i < 50 && (await db().collection('skipped_seqs').countDocuments({ conversationId: new ObjectId(id) })) < 2; i++) {
      await t.api('ben', 'GET', `/api/conversations/${id}/messages?afterSeq=0`);
      await sleep(100);
    }
    expect(await db().collection('skipped_seqs').countDocuments({ conversationId: new ObjectId(id) })).toBe(2);
    await post('u5');
    const unread = async () => {
      const listed = (await t.api('ben', 'GET', '/api/conversations')).body.items.find((c: { id: string }) => c.id === id);
      const one = (await t.api('ben', 'GET', `/api/conversations/${id}`)).body;
      return { listed: listed.unreadCount, one: one.unreadCount, lastSeq: one.lastSeq };
    };
    expect(await unread()).toEqual({ listed: 3, one: 3, lastSeq: 5 });
    // Read up to seq 2: the burned 3 and 4 are not unread, 5 is.
    expect((await t.api('ben', 'POST', `/api/conversations/${id}/read`, { seq: 2 })).status).toBeLessThan(300);
    expect(await unread()).toEqual({ listed: 1, one: 1, lastSeq: 5 });
    // Read through a burned seq: only 5 is left.
    expect((await t.api('ben', 'POST', `/api/conversations/${id}/read`, { seq: 3 })).status).toBeLessThan(300);
    expect(await unread()).toEqual({ listed: 1, one: 1, lastSeq: 5 });
  });
});

describe('tombstones below the watermark are remembered (issue 23: no tombstone read per page)', () => {
  it('answers below the settled watermark from memory and asks the database above it', async () => {
    const conversationId = new ObjectId();
    const key = conversationId.toHexString();
    const skippedSeqs = db().collection('skipped_seqs');
    let finds = 0;
    const counting = new Proxy(skippedSeqs, {
      get(target, prop) {
        if (prop === 'find') finds++;
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const repo = seqsRepository({ messages: db().collection('messages'), skippedSeqs: counting, conversations: db().collection('conversations') } as any);
    await skippedSeqs.insertMany([3, 7].map((seq) => ({ conversationId, seq, burnedAt: new Date(0) })));
    expect(await repo.burnedIn(conversationId, 0, 10, 8)).toEqual([3, 7]);
    expect(finds).toBe(1);
    // Within (0, 8], the watermark read before: final, from memory.
    expect(await repo.burnedIn(conversationId, 2, 6, 8)).toEqual([3]);
    expect((await repo.burnedCounts([{ conversationId, after: 0, upTo: 8, settledSeq: 8 }])).get(key)).toBe(2);
    expect(finds).toBe(1);
    // Burned above the remembered watermark: asked for, and learnt up to the new watermark.
    await skippedSeqs.insertOne({ conversationId, seq: 9, burnedAt: new Date(0) });
    expect(await repo.burnedIn(conversationId, 5, 10, 9)).toEqual([7, 9]);
    expect(finds).toBe(2);
    expect((await repo.burnedCounts([{ conversationId, after: 3, upTo: 12, settledSeq: 9 }])).get(key)).toBe(2);
    expect(finds).toBe(3);
    expect((await repo.burnedCounts([{ conversationId, after: 0, upTo: 9, settledSeq: 9 }])).get(key)).toBe(3);
    expect(finds).toBe(3);
  });

  it('forgets what it remembered once a restore rewound the conversation (a new restoreGeneration): a seq burned before the restore and stored after it is not reported burned', async () => {
    const conversationId = new ObjectId();
    const key = conversationId.toHexString();
    const skippedSeqs = db().collection('skipped_seqs');
    const repo = seqsRepository({ messages: db().collection('messages'), skippedSeqs, conversations: db().collection('conversations') } as any);
    await skippedSeqs.insertMany([3, 7].map((seq) => ({ conversationId, seq, burnedAt: new Date(0) })));
    expect(await repo.burnedIn(conversationId, 0, 10, 8)).toEqual([3, 7]);
    // `ops restore --into <live> --drop`: the backup was taken before 7 was burned; after the restore, 7 is a message.
    await skippedSeqs.deleteOne({ conversationId, seq: 7 });
    expect(await repo.burnedIn(conversationId, 0, 8, 8)).toEqual([3, 7]); // same generation: from memory (what a restore must invalidate)
    expect(await repo.burnedIn(conversationId, 0, 8, 8, 'backup-1:aa')).toEqual([3]);
    expect((await repo.burnedCounts([{ conversationId, after: 0, upTo: 8, settledSeq: 8, generation: 'backup-1:aa' }])).get(key)).toBe(1);
    // Learnt again under the new generation: answered from memory from here on.
    await skippedSeqs.insertOne({ conversationId, seq: 5, burnedAt: new Date(0) });
    expect(await repo.burnedIn(conversationId, 0, 8, 8, 'backup-1:aa')).toEqual([3]);
  });
});

describe('the send batcher and burned seqs', () => {
  const conversationId = new ObjectId();
  const draft = (clientMsgId: string) => ({ _id: new ObjectId(), conversationId, senderId: 'ann', clientMsgId, text: 'x', createdAt: new Date(0), terms: [] });

  it('an insert slower than half the settle delay whose seq was burned meanwhile deletes its copy and takes a new seq', async () => {
    let lastSeq = 0;
    const stored = new Map<string, MessageDoc>();
    const deleted: number[] = [];
    const batcher = createSendBatcher({
      conversations: { allocateSeqs: async (_id: ObjectId, n: number) => ({ lastSeq: (lastSeq += n), membershipEpoch: 0 }) } as any,
      messages: {
        insertMany: async (docs: MessageDoc[]): Promise<InsertOutcome[]> => {
          await sleep(60); // slower than settleMs / 2
          for (const d of docs) stored.set(d._id.toHexString(), { ...d });
          return docs.map(() => ({ status: 'stored' }));
        },
        findByClientMsgIds: async () => [],
        deleteOwn: async (id: ObjectId) => { deleted.push(stored.get(id.toHexString())!.seq); stored.delete(id.toHexString()); },
      } as any,
      seqs: { burn: async () => [], burnedAmong: async (_c: ObjectId, seqs: number[]) => new Set(seqs.filter((s) => s === 1)) },
      settleMs: 100,
      now: () => new Date(0),
      publish: () => undefined,
    });
    const outcome = await batcher.submit(draft('slow'));
    expect('stored' in outcome && outcome.stored.seq).toBe(2);
    expect(deleted).toEqual([1]);
    expect([...stored.values()].map((d) => d.seq)).toEqual([2]);
  });

  it('a document the server refused for good burns its seq at once', async () => {
    const burned: number[] = [];
    const batcher = createSendBatcher({
      conversations: { allocateSeqs: async () => ({ lastSeq: 7, membershipEpoch: 0 }) } as any,
      messages: { insertMany: async () => [{ status: 'rejected', code: 121 }], findByClientMsgIds: async () => [], deleteOwn: async () => undefined } as any,
      seqs: { burn: async (_c: ObjectId, seqs: number[]) => { burned.push(...seqs); return seqs; }, burnedAmong: async () => new Set<number>() },
      settleMs: 100,
      now: () => new Date(0),
      publish: () => undefined,
    });
    await expect(batcher.submit(draft('refused'))).rejects.toBeDefined();
    await sleep(10);
    expect(burned).toEqual([7]);
  });
});

describe('the send batcher re-reads memberships when someone left (membership epoch)', () => {
  const conversationId = new ObjectId();
  const draft = (clientMsgId: string) => ({ _id: new ObjectId(), conversationId, senderId: 'ann', clientMsgId, text: 'x', createdAt: new Date(0), terms: [] });

  it('reads a sender once per epoch; after a departure raised the epoch, a sender no longer a member is refused and its seq burned', async () => {
    let lastSeq = 0;
    let epoch = 0;
    let member = true;
    const lookups: number[] = [];
    const burned: number[] = [];
    const batcher = createSendBatcher({
      conversations: { allocateSeqs: async (_id: ObjectId, n: number) => ({ lastSeq: (lastSeq += n), membershipEpoch: epoch }) } as any,
      messages: { insertMany: async (docs: MessageDoc[]): Promise<InsertOutcome[]> => docs.map(() => ({ status: 'stored' })), findByClientMsgIds: async () => [], deleteOwn: async () => undefined } as any,
      seqs: { burn: async (_c: ObjectId, seqs: number[]) => { burned.push(...seqs); return seqs; }, burnedAmong: async () => new Set<number>() },
      members: { present: async (pairs) => { lookups.push(pairs.length); return new Set(member ? pairs.map((p) => `${p.conversationId.toHexString()}:${p.userId}`) : []); } },
      now: () => new Date(0),
      publish: () => undefined,
    });
    expect('stored' in await batcher.submit(draft('first'))).toBe(true);
    expect('stored' in await batcher.submit(draft('second'))).toBe(true);
    expect(lookups).toEqual([1]); // confirmed at epoch 0: no second lookup
    epoch = 1; // someone (here: ann) left
    member = false;
    expect(await batcher.submit(draft('after-removal'))).toEqual({ notMember: true });
    expect(lookups).toEqual([1, 1]);
    await sleep(10);
    expect(burned).toEqual([3]);
    // Still refused on the next send (not confirmed at epoch 1).
    expect(await batcher.submit(draft('again'))).toEqual({ notMember: true });
    expect(lookups).toEqual([1, 1, 1]);
  });

  it('after a restore (a new restore generation, the epoch set back), a sender confirmed before it is read again', async () => {
    let lastSeq = 0;
    let epoch = 3;
    let generation = '';
    let member = true;
    const lookups: number[] = [];
    const batcher = createSendBatcher({
      conversations: { allocateSeqs: async (_id: ObjectId, n: number) => ({ lastSeq: (lastSeq += n), membershipEpoch: epoch, restoreGeneration: generation }) } as any,
      messages: { insertMany: async (docs: MessageDoc[]): Promise<InsertOutcome[]> => docs.map(() => ({ status: 'stored' })), findByClientMsgIds: async () => [], deleteOwn: async () => undefined } as any,
      seqs: { burn: async (_c: ObjectId, seqs: number[]) => seqs, burnedAmong: async () => new Set<number>() },
      members: { present: async (pairs) => { lookups.push(pairs.length); return new Set(member ? pairs.map((p) => `${p.conversationId.toHexString()}:${p.userId}`) : []); } },
      now: () => new Date(0),
      publish: () => undefined,
    });
    expect('stored' in await batcher.submit(draft('before-restore'))).toBe(true);
    expect(lookups).toEqual([1]);
    // The backup predates ann's membership: restored, the conversation is at epoch 1 and ann is not a member.
    epoch = 1;
    generation = 'backup-1:aa';
    member = false;
    expect(await batcher.submit(draft('after-restore'))).toEqual({ notMember: true });
    expect(lookups).toEqual([1, 1]);
  });
});

describe('the settler moves the watermark over this instance\'s own stored ranges without scanning (issue 23)', () => {
  it('scans once to learn the watermark; a range stored in full right above it raises it with one update; a range with someone else\'s seqs below it is scanned', async () => {
    const id = new ObjectId();
    let lastSeq = 5;
    const scans: [number, number][] = [];
    const raised: number[] = [];
    const settler = createSeqSettler({
      conversations: { findById: async () => ({ _id: id, lastSeq, settledSeq: raised.at(-1) ?? 0 }) } as any,
      seqs: {
        scan: async (_c: ObjectId, base: number, last: number) => { scans.push([base, last]); return { settled: last, gaps: [], scannedTo: last }; },
        burn: async () => [],
        raiseSettled: async (_c: ObjectId, seq: number) => { raised.push(seq); },
        raiseSettledMany: async (raises: { seq: number }[]) => { raised.push(...raises.map((r) => r.seq)); },
      } as any,
      settleMs: 1_000,
      now: () => new Date(0),
    });
    const key = id.toHexString() as never;
    settler.stored(key, 1, 5); // nothing known yet: scanned
    await settler.settleNow();
    expect(scans).toEqual([[0, 5]]);
    expect(raised).toEqual([5]);

    lastSeq = 8;
    settler.stored(key, 6, 8); // right above what is known: no scan, one raise
    await settler.settleNow();
    expect(scans).toEqual([[0, 5]]);
    expect(raised).toEqual([5, 8]);

    lastSeq = 12;
    settler.stored(key, 11, 12); // 9..10 are another instance's: scanned
    await settler.settleNow();
    expect(scans).toEqual([[0, 5], [8, 12]]);
    expect(raised).toEqual([5, 8, 12]);
  });

  it('learns the watermark the allocation read: a first allocation right above it needs no scan, one further up is scanned', async () => {
    const scans: [string, number, number][] = [];
    const raised: [string, number][] = [];
    const bulks: number[] = [];
    const settler = createSeqSettler({
      conversations: { findById: async (id: ObjectId) => ({ _id: id, lastSeq: 20, settledSeq: 0 }) } as any,
      seqs: {
        scan: async (c: ObjectId, base: number, last: number) => { scans.push([c.toHexString(), base, last]); return { settled: last, gaps: [], scannedTo: last }; },
        burn: async () => [],
        raiseSettled: async (c: ObjectId, seq: number) => { raised.push([c.toHexString(), seq]); },
        raiseSettledMany: async (raises: { conversationId: ObjectId; seq: number }[]) => { bulks.push(raises.length); raised.push(...raises.map((r): [string, number] => [r.conversationId.toHexString(), r.seq])); },
      } as any,
      settleMs: 1_000,
      now: () => new Date(0),
    });
    const fresh = new ObjectId();
    const busy = new ObjectId();
    const other = new ObjectId();
    settler.stored(fresh.toHexString() as never, 1, 3, 0); // a new conversation: nothing below seq 1
    settler.stored(other.toHexString() as never, 5, 6, 4); // the watermark right below
    settler.stored(busy.toHexString() as never, 11, 12, 7); // 8..10 may be unsettled: scanned
    await settler.settleNow();
    expect(scans).toEqual([[busy.toHexString(), 0, 20]]);
    expect(raised.filter(([c]) => c !== busy.toHexString()).sort()).toEqual([[fresh.toHexString(), 3], [other.toHexString(), 6]].sort());
    expect(bulks).toEqual([2]); // both raises in one write
  });
});

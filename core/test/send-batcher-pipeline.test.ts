import { ObjectId } from 'mongodb';
import { createSendBatcher } from '../src/chat/send-batcher';
import type { MessageDoc } from '../src/store/documents';
import type { InsertOutcome } from '../src/store/messages-repository';

/**
 * The send batcher's two stages (allocate, then store and answer): the next batch allocates while
 * the previous one stores, but allocations never overlap, a batch stores only after the previous
 * one answered, and no more than two batches are in flight — so per conversation, seqs are
 * allocated, stored, broadcast and acknowledged in one order.
 */
const conversationId = new ObjectId();
const draft = (clientMsgId: string) => ({ _id: new ObjectId(), conversationId, senderId: 'ann', clientMsgId, text: clientMsgId, createdAt: new Date(0), terms: [] });
const tick = () => new Promise((r) => setImmediate(r));
const until = async (condition: () => boolean) => {
  for (let i = 0; i < 200 && !condition(); i++) await tick();
  if (!condition()) throw new Error('condition not reached');
};

function pipelineRig(allocationTicks: () => number = () => 1) {
  const log: string[] = [];
  let lastSeq = 0;
  let allocatingNow = 0;
  let maxConcurrentAllocations = 0;
  const inserts: { seqs: number[]; release: () => void }[] = [];
  const published: number[] = [];
  const batcher = createSendBatcher({
    conversations: {
      allocateSeqs: async (_id: ObjectId, n: number) => {
        allocatingNow++;
        maxConcurrentAllocations = Math.max(maxConcurrentAllocations, allocatingNow);
        for (let t = allocationTicks(); t > 0; t--) await tick();
        allocatingNow--;
        lastSeq += n;
        log.push(`allocate ${lastSeq - n + 1}-${lastSeq}`);
        return { lastSeq, membershipEpoch: 0 };
      },
    } as never,
    messages: {
      insertMany: (docs: MessageDoc[]) => new Promise<InsertOutcome[]>((resolve) => {
        const seqs = docs.map((d) => d.seq);
        log.push(`insert ${seqs.join(',')}`);
        inserts.push({ seqs, release: () => resolve(docs.map(() => ({ status: 'stored' }))) });
      }),
      findByClientMsgIds: async () => [],
      deleteOwn: async () => undefined,
    } as never,
    now: () => new Date(0),
    publish: (doc) => { published.push(doc.seq); },
  });
  return { batcher, log, inserts, published, maxConcurrent: () => maxConcurrentAllocations };
}

describe('send batcher pipeline', () => {
  it('allocates the next batch while the previous one stores, and stores it only after the previous one answered', async () => {
    const rig = pipelineRig();
    const acks: number[] = [];
    const ack = (p: Promise<unknown>) => p.then((o) => { acks.push((o as { stored: MessageDoc }).stored.seq); });
    const first = ack(rig.batcher.submit(draft('a')));
    await until(() => rig.inserts.length === 1);
    const second = [ack(rig.batcher.submit(draft('b'))), ack(rig.batcher.submit(draft('c')))];
    // The second batch's seqs are reserved while the first insert is still unanswered...
    await until(() => rig.log.includes('allocate 2-3'));
    for (let i = 0; i < 5; i++) await tick();
    // ...but it is not stored before the first batch is answered.
    expect(rig.inserts).toHaveLength(1);
    rig.inserts[0]!.release();
    await first;
    await until(() => rig.inserts.length === 2);
    rig.inserts[1]!.release();
    await Promise.all(second);
    expect(rig.log).toEqual(['allocate 1-1', 'insert 1', 'allocate 2-3', 'insert 2,3']);
    expect(rig.published).toEqual([1, 2, 3]);
    expect(acks).toEqual([1, 2, 3]);
  });

  it('holds at most two batches in flight and never two allocations at once', async () => {
    const rig = pipelineRig();
    const sends = [rig.batcher.submit(draft('a'))];
    await until(() => rig.inserts.length === 1);
    sends.push(rig.batcher.submit(draft('b')));
    await until(() => rig.log.includes('allocate 2-2'));
    sends.push(rig.batcher.submit(draft('c')));
    for (let i = 0; i < 10; i++) await tick();
    // Batch 1 storing, batch 2 allocated and waiting: batch 3 waits in the queue, nothing reserved for it.
    expect(rig.log).toEqual(['allocate 1-1', 'insert 1', 'allocate 2-2']);
    expect(rig.batcher.queued).toBe(1);
    rig.inserts[0]!.release();
    await until(() => rig.inserts.length === 2 && rig.log.includes('allocate 3-3'));
    rig.inserts[1]!.release();
    await until(() => rig.inserts.length === 3);
    rig.inserts[2]!.release();
    await Promise.all(sends);
    expect(rig.published).toEqual([1, 2, 3]);
    expect(rig.maxConcurrent()).toBe(1);
  });

  it('under a stream of sends with uneven insert times: one allocation at a time, broadcasts and acks in seq order, every send answered', async () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    // Allocations of 1-4 ticks: a batch may end while the next one is still allocating.
    const rig = pipelineRig(() => 1 + Math.floor(random() * 4));
    let released = 0;
    let stop = false;
    // Each insert is answered after a few ticks (each tick: a 1 in 2 chance).
    const releaser = (async () => {
      while (!stop) {
        await tick();
        if (released < rig.inserts.length && random() < 0.5) rig.inserts[released++]!.release();
      }
    })();
    const acks: number[] = [];
    const sends: Promise<void>[] = [];
    try {
      for (let i = 0; i < 60; i++) {
        sends.push(rig.batcher.submit(draft(`s${i}`)).then((o) => { acks.push((o as { stored: MessageDoc }).stored.seq); }));
        for (let t = Math.floor(random() * 4); t > 0; t--) await tick();
      }
      await Promise.all(sends);
    } finally {
      stop = true;
      await releaser;
    }
    expect(rig.maxConcurrent()).toBe(1);
    expect(rig.published).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    expect(acks).toEqual(rig.published);
    expect(rig.inserts.length).toBeGreaterThan(10);
  });
});

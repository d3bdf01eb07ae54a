import { AppError } from '../errors';
import { membershipId, type MessageDoc } from '../store/documents';
import type { ConversationsRepository } from '../store/conversations-repository';
import type { InsertOutcome, MessagesRepository } from '../store/messages-repository';
import { isMongoUnavailable } from '../store/mongo-errors';
import type { SeqsRepository } from '../store/seqs-repository';
import type { ObjectId } from 'mongodb';

export type Draft = Omit<MessageDoc, 'seq'>;
/** `created: false`: this clientMsgId was stored before (a retry); `stored` is that original. */
export type BatchOutcome = { stored: MessageDoc; created: boolean } | { closed: true } | { reusedIn: MessageDoc } | { notMember: true };

interface Pending {
  draft: Draft;
  acceptedAt: number;
  attempts: number;
  /** performance.now() just before its seq was reserved (the age the settler's rule is about). */
  reservedAt?: number;
  /** The conversation's membership epoch read with the seq allocation. */
  membershipEpoch?: number;
  /** The conversation's restore generation read with the seq allocation (ConversationDoc.restoreGeneration). */
  restoreGeneration?: string;
  /** The conversation's settled watermark read with the seq allocation (a lower bound: it only rises). */
  settledSeq?: number;
  resolve(outcome: BatchOutcome): void;
  reject(error: unknown): void;
}

/** A seq clash only happens when the local server hands two allocations the same value; a few retries settle it. */
const MAX_SEQ_ATTEMPTS = 8;
const RECENT_PUBLISHED = 10_000;

export interface SendBatcherDeps {
  conversations: ConversationsRepository;
  messages: MessagesRepository;
  now(): Date;
  /**
   * Called synchronously for every message whose storage the server confirmed (new, or found as
   * the original of a retry), in seq order per conversation, before its sender is answered.
   */
  publish(doc: MessageDoc, acceptedAt: number): void;
  maxBatch?: number;
  /** Most sends waiting for a batch on this instance; beyond it sends answer `unavailable` at once. */
  maxQueue?: number;
  /** A send not settled within this answers `unavailable` (it may still be stored: the retry finds it). */
  deadlineMs?: number;
  /**
   * Seq settlement (store/seqs-repository.ts, chat/seq-settler.ts): a seq this writer reserved and
   * knows it will never store is burned at once; an insert acknowledged later than half of
   * `settleMs` after its reservation checks the tombstones before it counts as stored.
   */
  seqs?: Pick<SeqsRepository, 'burn' | 'burnedAmong'>;
  settleMs?: number;
  /**
   * A conversation in which this instance reserved seqs that may be unsettled (not all stored, or
   * the outcome unknown): the settler scans it.
   */
  onReserved?(conversationId: ObjectId): void;
  /**
   * Every seq of one allocation `from..to` was stored by this batch (the settler may move the
   * watermark without a scan); `settledSeq`: the watermark the allocation read.
   */
  onStored?(conversationId: ObjectId, from: number, to: number, settledSeq?: number): void;
  /**
   * Membership re-check at write time (issue 21, join/remove race). Seq allocation returns the
   * conversation's membership epoch, which every departure raises before it answers. A sender this
   * batcher has not confirmed at that epoch (a first send, or someone left since) is looked up
   * once for the batch (one _id $in query, read after the allocation), and a sender who is no
   * longer a member is answered `notMember` (its seq burned): a removal that answered before a send
   * started refuses that send on every instance, whatever a membership cache or a late
   * cross-instance notice says. In the common case (nobody left) it costs no query.
   * Absent: no check here (the caller's check is final).
   */
  members?: { present(pairs: { conversationId: ObjectId; userId: string }[]): Promise<Set<string>> };
}

/** The database did not say the message is stored: retry with the same clientMsgId (never a 500). */
const notStored = (retryAfter = 1) =>
  new AppError('unavailable', 'The message could not be confirmed as stored; retry with the same clientMsgId.', { retryAfter });

/**
 * Groups the sends that arrive in the same event-loop turn into one write. Per conversation in a
 * batch, one `$inc` reserves as many seqs as it has messages; then one unordered insertMany stores
 * the whole batch and each document gets exactly the outcome the server reported for it (see
 * InsertOutcome). Under load batches grow by themselves (what arrives during one write forms the
 * next batch); when idle a batch holds one message and adds no delay.
 *
 * Backpressure: the queue is bounded, and while the database is failing only one batch waits on
 * it (the probe); every other send is answered `unavailable` at once instead of queueing behind it.
 */
function groupByConversation(items: Pending[]): Map<string, Pending[]> {
  const byConversation = new Map<string, Pending[]>();
  for (const item of items) {
    const key = item.draft.conversationId.toHexString();
    const list = byConversation.get(key);
    if (list) list.push(item);
    else byConversation.set(key, [item]);
  }
  return byConversation;
}

export function createSendBatcher(deps: SendBatcherDeps) {
  const maxBatch = deps.maxBatch ?? 500;
  const maxQueue = deps.maxQueue ?? 5_000;
  const queue: Pending[] = [];
  let scheduled = false;
  /** Set when the last batch failed because the database is unavailable; cleared by the next definite answer. */
  let failing = false;
  /** Ids this instance broadcast lately (bounded), so a retry of a delivered message is not broadcast twice. */
  const published = new Set<string>();
  const publish = (doc: MessageDoc, acceptedAt: number) => {
    published.add(doc._id.toHexString());
    if (published.size > RECENT_PUBLISHED) published.delete(published.values().next().value!);
    try {
      deps.publish(doc, acceptedAt);
    } catch {
      // A broadcast failure must not cost the sender its ack: the message is stored.
    }
  };

  /**
   * Two stages per batch: allocate (seqs, then the membership check) and store (insert, answer,
   * broadcast). The next batch allocates while this one stores (issue 21/23: the send path's two
   * serial round trips per batch were most of a message's latency), but never while another
   * batch allocates, and stores only after the previous batch is answered: per conversation, seqs
   * are allocated, stored, broadcast and acknowledged in one order. At most two batches in flight.
   */
  let allocating = false;
  let inFlight = 0;
  /** Settles once the latest started batch has answered every sender. */
  let previousAnswered: Promise<void> = Promise.resolve();
  function schedule(): void {
    if (scheduled || allocating || inFlight >= 2) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      if (!queue.length || allocating || inFlight >= 2) return;
      allocating = true;
      inFlight += 1;
      const batch = queue.splice(0, maxBatch);
      let done = false;
      // Once per batch (its allocation's end, or its end if that threw): the next batch may allocate.
      const allocated = () => {
        if (done) return;
        done = true;
        allocating = false;
        if (queue.length) schedule();
      };
      // flush answers every item itself; this only guards against a bug leaving senders waiting.
      const run = flush(batch, previousAnswered, allocated).catch((error: unknown) => { for (const item of batch) item.reject(error); });
      previousAnswered = run;
      void run.finally(() => {
        allocated();
        inFlight -= 1;
        if (queue.length) schedule();
      });
    });
  }

  async function allocate(batch: Pending[]): Promise<Pending[]> {
    const byConversation = groupByConversation(batch);
    const now = deps.now();
    const ready: Pending[] = [];
    await Promise.all([...byConversation.values()].map(async (items) => {
      let last: number | undefined;
      let epoch = 0;
      let generation = '';
      let settledSeq: number | undefined;
      const reservedAt = performance.now();
      try {
        const allocated = await deps.conversations.allocateSeqs(items[0]!.draft.conversationId, items.length, now);
        last = allocated?.lastSeq;
        epoch = allocated?.membershipEpoch ?? 0;
        generation = allocated?.restoreGeneration ?? '';
        settledSeq = allocated?.settledSeq;
      } catch (error) {
        // Whether the $inc happened is unknown: the settler watches the conversation (a reserved
        // seq nobody stores is burned), and the senders retry. Nothing of these was stored; the
        // other conversations of the batch go on.
        deps.onReserved?.(items[0]!.draft.conversationId);
        if (isMongoUnavailable(error)) failing = true;
        for (const item of items) item.reject(isMongoUnavailable(error) ? notStored() : error);
        return;
      }
      if (last === undefined) {
        for (const item of items) item.resolve({ closed: true });
        return;
      }
      items.forEach((item, i) => {
        (item.draft as MessageDoc).seq = last - items.length + 1 + i;
        item.reservedAt = reservedAt;
        item.membershipEpoch = epoch;
        item.restoreGeneration = generation;
        item.settledSeq = settledSeq;
        ready.push(item);
      });
    }));
    return ready;
  }

  /** A duplicate key is either a retry of a stored clientMsgId (answer with the original) or a seq clash (take a new seq). */
  async function settleDuplicates(items: Pending[]): Promise<{ originals: Map<Pending, MessageDoc>; clashes: Pending[] }> {
    const originals = new Map<Pending, MessageDoc>();
    if (!items.length) return { originals, clashes: [] };
    const found = await deps.messages.findByClientMsgIds(items.map((item) => ({ senderId: item.draft.senderId, clientMsgId: item.draft.clientMsgId })));
    const byKey = new Map(found.map((doc) => [`${doc.senderId}\u0000${doc.clientMsgId}`, doc]));
    const clashes: Pending[] = [];
    for (const item of items) {
      const original = byKey.get(`${item.draft.senderId}\u0000${item.draft.clientMsgId}`);
      if (original) originals.set(item, original);
      else clashes.push(item);
    }
    return { originals, clashes };
  }

  /** Burns seqs this writer reserved and will never store (best effort: the settler does it otherwise). */
  function burnOwn(items: Pending[]): void {
    if (!deps.seqs || !items.length) return;
    for (const [, list] of groupByConversation(items)) {
      const doc = list[0]!.draft as MessageDoc;
      void deps.seqs.burn(doc.conversationId, list.map((item) => (item.draft as MessageDoc).seq), deps.now()).catch(() => undefined);
    }
  }

  /**
   * An insert acknowledged later than settleMs/2 after its seq was reserved may have raced a
   * settler burning that seq (the settler only burns what it has seen missing for settleMs):
   * check the tombstones, and on a hit delete this copy (marked `reseq`: it takes a new seq).
   * Fast inserts skip this: they were stored before any settler could decide to burn.
   */
  async function recheckSlow(ready: Pending[], outcomes: (InsertOutcome | { status: 'reseq' })[]): Promise<void> {
    if (!deps.seqs || !deps.settleMs) return;
    const at = performance.now();
    const slow = ready.filter((item, i) => outcomes[i]!.status === 'stored' && at - (item.reservedAt ?? at) >= deps.settleMs! / 2);
    for (const [, list] of groupByConversation(slow)) {
      const conversationId = (list[0]!.draft as MessageDoc).conversationId;
      let burned: Set<number>;
      try {
        burned = await deps.seqs.burnedAmong(conversationId, list.map((item) => (item.draft as MessageDoc).seq));
      } catch (error) {
        // Cannot tell: the sender retries (its retry finds the stored original by clientMsgId).
        for (const item of list) outcomes[ready.indexOf(item)] = { status: 'unknown', cause: error };
        continue;
      }
      for (const item of list) {
        const doc = item.draft as MessageDoc;
        if (!burned.has(doc.seq)) continue;
        try {
          await deps.messages.deleteOwn(doc._id);
          outcomes[ready.indexOf(item)] = { status: 'reseq' };
        } catch (error) {
          outcomes[ready.indexOf(item)] = { status: 'unknown', cause: error };
        }
      }
    }
  }

  /**
   * Membership id → the epoch at which this batcher last read that membership, and when (bounded,
   * oldest dropped). An entry older than CONFIRMED_TTL_MS is read again: that bounds what a
   * departure whose epoch write never happened (its instance died between the two writes) could let through.
   * A restore sets epochs back: a confirmation counts only under the restore generation it was read in.
   */
  const confirmed = new Map<string, { epoch: number; at: number; generation: string }>();
  const MAX_CONFIRMED = 50_000;
  const CONFIRMED_TTL_MS = 30_000;
  const isConfirmed = (k: string, item: Pending, at: number) => {
    const entry = confirmed.get(k);
    return entry !== undefined && at - entry.at < CONFIRMED_TTL_MS && entry.generation === (item.restoreGeneration ?? '') && entry.epoch >= (item.membershipEpoch ?? 0);
  };

  /**
   * The allocated items whose senders are members (see SendBatcherDeps.members). The others are
   * answered `notMember` and their seqs burned; when the lookup fails they are answered
   * `unavailable` (retryable) and their seqs burned too (nothing was stored).
   */
  async function admit(ready: Pending[]): Promise<Pending[]> {
    if (!deps.members) return ready;
    const key = (item: Pending) => membershipId(item.draft.conversationId, item.draft.senderId);
    const now = performance.now();
    const unconfirmed = ready.filter((item) => !isConfirmed(key(item), item, now));
    if (!unconfirmed.length) return ready;
    let present: Set<string>;
    try {
      present = await deps.members.present(unconfirmed.map((item) => ({ conversationId: item.draft.conversationId, userId: item.draft.senderId })));
    } catch (error) {
      if (isMongoUnavailable(error)) failing = true;
      burnOwn(unconfirmed);
      for (const item of unconfirmed) item.reject(isMongoUnavailable(error) ? notStored() : error);
      return ready.filter((item) => !unconfirmed.includes(item));
    }
    const refused: Pending[] = [];
    for (const item of unconfirmed) {
      const k = key(item);
      if (present.has(k)) {
        confirmed.delete(k);
        // Read after the allocation that returned this epoch: the membership held at this epoch.
        confirmed.set(k, { epoch: item.membershipEpoch ?? 0, at: now, generation: item.restoreGeneration ?? '' });
        if (confirmed.size > MAX_CONFIRMED) confirmed.delete(confirmed.keys().next().value!);
      } else {
        confirmed.delete(k);
        refused.push(item);
      }
    }
    burnOwn(refused);
    for (const item of refused) item.resolve({ notMember: true });
    return refused.length ? ready.filter((item) => !refused.includes(item)) : ready;
  }

  /**
   * Tells the settler, per conversation of the batch, whether every seq of its allocation was
   * stored (`onStored`) or some may be unsettled: refused members, failed or unknown inserts,
   * clashes (`onReserved`: scanned).
   */
  function reportSettlement(allocated: Pending[], ready: Pending[], outcomes: { status: string }[]): void {
    const storedItems = new Set(ready.filter((_, i) => outcomes[i]?.status === 'stored'));
    for (const [, items] of groupByConversation(allocated)) {
      const conversationId = items[0]!.draft.conversationId;
      const seqs = items.map((item) => (item.draft as MessageDoc).seq);
      if (deps.onStored && items.every((item) => storedItems.has(item))) deps.onStored(conversationId, Math.min(...seqs), Math.max(...seqs), items[0]!.settledSeq);
      else deps.onReserved?.(conversationId);
    }
  }

  /** `previous`: the batch before this one has answered; `allocatedDone`: lets the next batch allocate. */
  async function flush(batch: Pending[], previous: Promise<void>, allocatedDone: () => void): Promise<void> {
    let allocated: Pending[];
    let ready: Pending[];
    try {
      allocated = await allocate(batch);
      ready = await admit(allocated);
    } finally {
      allocatedDone();
    }
    await previous;
    if (!ready.length) {
      reportSettlement(allocated, ready, []);
      return;
    }
    const outcomes: (InsertOutcome | { status: 'reseq' })[] = await deps.messages.insertMany(ready.map((item) => item.draft as MessageDoc));
    await recheckSlow(ready, outcomes);
    reportSettlement(allocated, ready, outcomes);
    burnOwn(ready.filter((_, i) => outcomes[i]!.status === 'rejected'));
    const unknown = outcomes.filter((o) => o.status === 'unknown');
    failing = unknown.length === outcomes.length && unknown.some((o) => 'cause' in o && isMongoUnavailable(o.cause));

    let duplicates: Awaited<ReturnType<typeof settleDuplicates>>;
    try {
      duplicates = await settleDuplicates(ready.filter((_, i) => outcomes[i]!.status === 'duplicate'));
    } catch {
      // Cannot tell a retry from a clash right now: those senders retry (nothing new was stored for them).
      duplicates = { originals: new Map(), clashes: [] };
      ready.forEach((item, i) => { if (outcomes[i]!.status === 'duplicate') outcomes[i] = { status: 'unknown', cause: undefined }; });
    }

    // Broadcast first, in seq order per conversation (`ready` is grouped by conversation in seq
    // order), then answer: a sender never sees its ack before the room sees the message.
    const answers: (() => void)[] = [];
    ready.forEach((item, i) => {
      const outcome = outcomes[i]!;
      const doc = item.draft as MessageDoc;
      if (outcome.status === 'stored') {
        publish(doc, item.acceptedAt);
        answers.push(() => item.resolve({ stored: doc, created: true }));
      } else if (outcome.status === 'duplicate') {
        const original = duplicates.originals.get(item);
        if (original && !original.conversationId.equals(doc.conversationId)) answers.push(() => item.resolve({ reusedIn: original }));
        else if (original) {
          // The first attempt may have been stored without its ack (and so its broadcast) getting
          // out: a timeout, a lost connection, a crashed instance. Unless this instance broadcast it,
          // broadcast it now (late, out of seq order; clients drop an id they already have).
          if (!published.has(original._id.toHexString())) publish(original, item.acceptedAt);
          answers.push(() => item.resolve({ stored: original, created: false }));
        } else if (++item.attempts < MAX_SEQ_ATTEMPTS) queue.push(item);
        else answers.push(() => item.reject(new AppError('unavailable', 'Could not allocate a message sequence number; retry with the same clientMsgId.', { retryAfter: 1 })));
      } else if (outcome.status === 'reseq') {
        if (++item.attempts < MAX_SEQ_ATTEMPTS) queue.push(item);
        else answers.push(() => item.reject(notStored()));
      } else if (outcome.status === 'rejected') {
        answers.push(() => item.reject(new Error(`MongoDB rejected a message document (write error code ${outcome.code})`)));
      } else {
        answers.push(() => item.reject(notStored()));
      }
    });
    for (const answer of answers) answer();
  }

  return {
    /**
     * Resolves once the message is durably stored (or is known to be a retry, or the conversation is
     * closed); rejects with a retryable `unavailable` when its storage is not confirmed.
     */
    submit(draft: Draft, acceptedAt: number = performance.now()): Promise<BatchOutcome> {
      if (queue.length >= maxQueue) return Promise.reject(new AppError('unavailable', 'Too many messages are waiting to be stored on this instance; retry shortly.', { retryAfter: 1 }));
      if (failing && inFlight > 0) return Promise.reject(new AppError('unavailable', 'The database is not answering; retry with the same clientMsgId.', { retryAfter: 2 }));
      return new Promise((resolve, reject) => {
        const timer = deps.deadlineMs ? setTimeout(() => reject(notStored(2)), deps.deadlineMs) : undefined;
        const settle = <T>(fn: (value: T) => void) => (value: T) => { clearTimeout(timer); fn(value); };
        queue.push({ draft, acceptedAt, attempts: 0, resolve: settle(resolve), reject: settle(reject) });
        schedule();
      });
    },
    /** Sends waiting for a batch (for metrics and tests). */
    get queued() {
      return queue.length;
    },
  };
}

export type SendBatcher = ReturnType<typeof createSendBatcher>;

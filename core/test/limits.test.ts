import type { CommandSucceededEvent } from 'mongodb';
import { createChatService } from '../src/chat/chat-service';
import type { ChatDeps } from '../src/chat/deps';
import { conversationsRepository } from '../src/store/conversations-repository';
import { membershipId, type ConversationDoc, type MembershipDoc } from '../src/store/documents';
import { newObjectId } from '../src/domain/ids';
import { membershipsRepository } from '../src/store/memberships-repository';
import { messagesRepository } from '../src/store/messages-repository';
import { openStore, type Store } from '../src/store/mongo-store';
import { seqsRepository } from '../src/store/seqs-repository';
import { testNow } from '../../ops/services/test-clock';
import { startTestCore, testServicesEnv, uniqueDbName, type TestCore } from './harness';

/** Group size and memberships per user are capped (GROUP_MAX_MEMBERS, MEMBERSHIPS_PER_USER_MAX): 409 with a reason. */
describe('membership limits', () => {
  let t: TestCore;
  beforeAll(async () => {
    t = await startTestCore({ GROUP_MAX_MEMBERS: '4', MEMBERSHIPS_PER_USER_MAX: '3' });
  });
  afterAll(async () => {
    await t.stop();
  });

  const expectLimit = (res: { status: number; body: any }, reason: string) => {
    expect({ status: res.status, code: res.body?.code, reason: res.body?.reason }).toEqual({ status: 409, code: 'conflict', reason });
    expect(res.body.detail).toEqual(expect.any(String));
  };

  it('refuses a group created beyond GROUP_MAX_MEMBERS, and adds or joins beyond it', async () => {
    expectLimit(await t.api('gina', 'POST', '/api/conversations', { type: 'group', name: 'big', memberIds: ['g1', 'g2', 'g3', 'g4'] }), 'group_full');
    const group = await t.api('gina', 'POST', '/api/conversations', { type: 'group', name: 'ok', memberIds: ['g1', 'g2'] });
    expect(group.status).toBe(201);
    expectLimit(await t.api('gina', 'POST', `/api/conversations/${group.body.id}/members`, { userIds: ['g3', 'g4'] }), 'group_full');
    // Adding someone already there changes nothing and is not counted against the limit.
    expect((await t.api('gina', 'POST', `/api/conversations/${group.body.id}/members`, { userIds: ['g1', 'g3'] })).status).toBe(200);
    const open = await t.api('gina', 'POST', '/api/conversations', { type: 'group', name: 'open', visibility: 'open', memberIds: ['g5', 'g6', 'g7'] });
    expectLimit(await t.api('g8', 'POST', `/api/conversations/${open.body.id}/join`), 'group_full');
  });

  it('refuses to take a user beyond MEMBERSHIPS_PER_USER_MAX conversations, naming the user', async () => {
    for (let i = 0; i < 3; i++) expect((await t.api(`o${i}`, 'POST', '/api/conversations', { type: 'group', name: `m${i}`, memberIds: ['busy'] })).status).toBe(201);
    const res = await t.api('o9', 'POST', '/api/conversations', { type: 'group', name: 'one more', memberIds: ['busy', 'free'] });
    expectLimit(res, 'memberships_limit');
    expect(res.body.errors).toEqual([{ path: 'busy', message: expect.any(String) }]);
    expectLimit(await t.api('o9', 'POST', '/api/conversations', { type: 'direct', memberIds: ['busy'] }), 'memberships_limit');
    const listed = await t.api('busy', 'GET', '/api/conversations');
    expect(listed.body.items).toHaveLength(3);
  });

  it('asking again for a direct conversation one already has is not a new membership', async () => {
    expect((await t.api('d1', 'POST', '/api/conversations', { type: 'direct', memberIds: ['d2'] })).status).toBe(201);
    for (let i = 0; i < 2; i++) expect((await t.api(`p${i}`, 'POST', '/api/conversations', { type: 'group', name: 'x', memberIds: ['d1'] })).status).toBe(201);
    expect((await t.api('d1', 'POST', '/api/conversations', { type: 'direct', memberIds: ['d2'] })).status).toBe(200);
  });
});

/**
 * The listing is one sorted, limited aggregation: the core receives a page of conversations with
 * the user's read markers, not every conversation of the user sorted in memory, in one round trip.
 * Counted from the commands and documents the server sends back.
 */
describe('conversation listing by index', () => {
  let store: Store;
  const replies: { command: string; collection: string; docs: Record<string, unknown>[] }[] = [];
  beforeAll(async () => {
    store = await openStore(testServicesEnv().MONGODB_URI, uniqueDbName(), { poolSize: 5, monitorCommands: true });
    store.client.on('commandSucceeded', (e: CommandSucceededEvent) => {
      const cursor = (e.reply as { cursor?: { firstBatch?: Record<string, unknown>[]; nextBatch?: Record<string, unknown>[]; ns?: string } }).cursor;
      if (cursor) replies.push({ command: e.commandName, collection: String(cursor.ns ?? '').split('.').pop()!, docs: cursor.firstBatch ?? cursor.nextBatch ?? [] });
    });
  });
  afterAll(async () => {
    await store.close();
  });

  it('pages 300 conversations in activity order, holding one page at a time', async () => {
    const base = testNow().getTime();
    const conversations: ConversationDoc[] = Array.from({ length: 300 }, (_, i) => {
      const createdAt = new Date(base - 1_000_000 + i * 1000);
      // Every third has a message later than any creation; the rest are ordered by creation.
      const lastMessageAt = i % 3 === 0 ? new Date(base + ((i * 7919) % 300) * 1000) : null;
      return { _id: newObjectId(), type: 'group', name: `c${i}`, createdBy: 'lister', createdAt, lastSeq: lastMessageAt ? 1 : 0, lastMessageAt, activityAt: lastMessageAt ?? createdAt, archivedAt: null };
    });
    await store.conversations.insertMany(conversations);
    const memberships: MembershipDoc[] = conversations.map((c) => ({ _id: membershipId(c._id, 'lister'), conversationId: c._id, userId: 'lister', role: 'owner', joinedAt: c.createdAt, lastReadSeq: 0 }));
    await store.memberships.insertMany(memberships);
    const deps = {
      conversations: conversationsRepository(store), memberships: membershipsRepository(store), messages: messagesRepository(store), seqs: seqsRepository(store),
      events: { messageCreated() {}, readMoved() {}, membershipChanged() {}, endSessions() {} },
      limitMessages: async () => undefined, maxMessageChars: 100, observePersist() {}, now: () => testNow(),
      membershipLimits: { groupMaxMembers: 1000, membershipsPerUserMax: 1000 },
    } satisfies ChatDeps;
    const chat = createChatService(deps);

    const expected = [...conversations]
      .sort((a, b) => (b.lastMessageAt ?? b.createdAt).getTime() - (a.lastMessageAt ?? a.createdAt).getTime() || b._id.toHexString().localeCompare(a._id.toHexString()))
      .map((c) => c._id.toHexString());
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      replies.length = 0;
      const page = await chat.conversations.list('lister', { limit: '25', ...(cursor ? { cursor } : {}) });
      seen.push(...page.items.map((c) => c.id));
      // One round trip for the page: an aggregation over the user's memberships that joins their
      // conversations and returns the page and one more (to know there is a next), each with its
      // read marker only. No second query for the conversations.
      expect(replies.filter((r) => r.collection === 'conversations')).toHaveLength(0);
      const membershipReplies = replies.filter((r) => r.collection === 'memberships');
      expect(membershipReplies.map((r) => r.command)).toEqual(['aggregate']);
      expect(membershipReplies[0]!.docs.length).toBeLessThanOrEqual(26);
      expect(new Set(membershipReplies[0]!.docs.flatMap((d) => Object.keys(d)))).toEqual(new Set(['conversation', 'lastReadSeq']));
      cursor = page.nextCursor ?? undefined;
      pages += 1;
    } while (cursor && pages < 20);
    expect(pages).toBe(12);
    expect(seen).toEqual(expected);
  });

  it('drops the listing\'s old activity_id index at start, once: no query uses it and every send rewrote it', async () => {
    const db = uniqueDbName();
    const first = await openStore(testServicesEnv().MONGODB_URI, db, { poolSize: 2 });
    try {
      // A database from before the listing was an aggregation: the index is there.
      await first.conversations.createIndex({ activityAt: -1, _id: -1 }, { name: 'activity_id' });
      expect((await first.conversations.indexes()).map((i) => i.name)).toContain('activity_id');
    } finally {
      await first.close();
    }
    // Two instances starting: the first drops it, the second finds it gone and starts anyway.
    const [a, b] = [await openStore(testServicesEnv().MONGODB_URI, db, { poolSize: 2 }), await openStore(testServicesEnv().MONGODB_URI, db, { poolSize: 2 })];
    try {
      const names = (await a.conversations.indexes()).map((i) => i.name);
      expect(names).not.toContain('activity_id');
      expect(names).toContain('activity');
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('reads a member\'s history, read marker and position by `_id` lookups only (no aggregation: the local server scans for those)', async () => {
    const now = testNow();
    const conversation: ConversationDoc = { _id: newObjectId(), type: 'group', name: 'one trip', createdBy: 'reader', createdAt: now, lastSeq: 3, settledSeq: 3, lastMessageAt: now, activityAt: now, archivedAt: null };
    await store.conversations.insertOne(conversation);
    await store.memberships.insertOne({ _id: membershipId(conversation._id, 'reader'), conversationId: conversation._id, userId: 'reader', role: 'owner', joinedAt: now, lastReadSeq: 0 });
    await store.messages.insertMany([1, 2, 3].map((seq) => ({ _id: newObjectId(), conversationId: conversation._id, seq, senderId: 'reader', clientMsgId: `m${seq}`, text: `message ${seq}`, createdAt: now, terms: ['message'] })));
    const chat = createChatService({
      conversations: conversationsRepository(store), memberships: membershipsRepository(store), messages: messagesRepository(store), seqs: seqsRepository(store),
      events: { messageCreated() {}, readMoved() {}, membershipChanged() {}, endSessions() {} },
      limitMessages: async () => undefined, maxMessageChars: 100, observePersist() {}, now: () => testNow(),
    } satisfies ChatDeps);
    const id = conversation._id.toHexString() as Parameters<typeof chat.messages.history>[1];
    const roundTrips = async (run: () => Promise<unknown>) => {
      replies.length = 0;
      await run();
      return replies.map((r) => `${r.command} ${r.collection}`);
    };
    // The membership and the conversation: one `_id` find each (served by the `_id` index on every
    // server), never an aggregation, whose `$match` mongo-java-server answers with a collection scan.
    const sorted = (xs: string[]) => [...xs].sort();
    const history = await roundTrips(async () => expect((await chat.messages.history('reader', id, {})).items.map((m) => m.seq)).toEqual([1, 2, 3]));
    expect(sorted(history.filter((c) => c.endsWith(' conversations') || c.endsWith(' memberships')))).toEqual(['find conversations', 'find memberships']);
    expect(history).toContain('find messages');
    expect(sorted(await roundTrips(async () => expect(await chat.conversations.position('reader', id)).toEqual({ lastSeq: 3, lastReadSeq: 0 })))).toEqual(['find conversations', 'find memberships']);
    const read = await roundTrips(async () => expect((await chat.messages.markRead('reader', id, { seq: 2 })).lastReadSeq).toBe(2));
    expect(sorted(read.filter((c) => c.endsWith(' conversations') || c.endsWith(' memberships')))).toEqual(['find conversations', 'find memberships']);
    // The errors are as before: a stranger gets 403, an unknown conversation 404.
    await expect(chat.messages.history('stranger', id, {})).rejects.toMatchObject({ code: 'forbidden' });
    await expect(chat.messages.history('reader', newObjectId().toHexString() as typeof id, {})).rejects.toMatchObject({ code: 'not_found' });
  });
});

import { MongoClient, type Collection, type Db, type IndexDescription } from 'mongodb';
import { timeDb } from './command-timing';
import { INDEX_NOT_FOUND, NAMESPACE_NOT_FOUND } from './mongo-errors';
import type { ConversationDoc, InstanceDoc, MembershipDoc, MembershipRemovalDoc, MessageDoc, SessionRevocationDoc, SkippedSeqDoc } from './documents';

export interface StoreHooks {
  onCommand?(command: string, seconds: number, ok: boolean): void;
  onPoolCheckout?(delta: 1 | -1): void;
}

export interface Store {
  client: MongoClient;
  db: Db;
  conversations: Collection<ConversationDoc>;
  memberships: Collection<MembershipDoc>;
  /** Departures a restore must not undo (store/memberships-repository.ts). */
  membershipRemovals: Collection<MembershipRemovalDoc>;
  messages: Collection<MessageDoc>;
  /** Tombstones of burned seqs (reserved, never to be stored): see store/seqs-repository.ts. */
  skippedSeqs: Collection<SkippedSeqDoc>;
  /** Ended sessions per user (store/sessions-repository.ts). */
  sessionRevocations: Collection<SessionRevocationDoc>;
  /** Running instances, for confirming revocations (store/sessions-repository.ts). */
  instances: Collection<InstanceDoc>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Collection names, declared once: the store opens them, and `ops restore` treats some specially (ops/backup/forward-only.ts). */
export const collectionNames = {
  conversations: 'conversations',
  memberships: 'memberships',
  membershipRemovals: 'membership_removals',
  messages: 'messages',
  skippedSeqs: 'skipped_seqs',
  sessionRevocations: 'session_revocations',
  instances: 'instances',
} as const;

/** Index names are stable so duplicate-key errors can say which rule was hit (see messages-repository). */
export const indexNames = {
  messageSeq: 'conversation_seq_unique',
  messageClientId: 'sender_clientMsgId_unique',
  messageTerms: 'conversation_terms',
  membershipUser: 'user_conversations',
  membershipConversation: 'conversation_members',
  conversationActivity: 'activity',
  skippedSeq: 'conversation_skipped_seq_unique',
  revocationUpdated: 'updated',
} as const;

/** The only place that opens a MongoDB connection; the same code talks to Atlas and to the local server. */
export async function openStore(uri: string, dbName: string, options: {
  poolSize: number;
  timeoutMS?: number;
  hooks?: StoreHooks;
  /** The driver's command events (tests that inspect replies); off in the core, see below. */
  monitorCommands?: boolean;
}): Promise<Store> {
  const hooks = options.hooks ?? {};
  const timeoutMS = options.timeoutMS ?? 5_000;
  const client = new MongoClient(uri, {
    maxPoolSize: options.poolSize,
    // Every step of an operation has a deadline (driver 7 dropped timeoutMS): finding a server,
    // getting a pooled connection, each socket read, and the write-concern wait. A hung server
    // fails the operation with MongoNetworkTimeoutError instead of stalling every send behind it.
    serverSelectionTimeoutMS: Math.min(5_000, timeoutMS),
    connectTimeoutMS: Math.min(5_000, timeoutMS),
    waitQueueTimeoutMS: timeoutMS,
    socketTimeoutMS: timeoutMS,
    retryWrites: true,
    // Acknowledged means durable: on Atlas a majority of the replica set has the write in its journal.
    writeConcern: { w: 'majority', journal: true, wtimeoutMS: timeoutMS },
    // Command durations are timed at the collection API (command-timing.ts): the driver's command
    // monitoring deserialises every reply twice.
    monitorCommands: options.monitorCommands ?? false,
    appName: 'switchboard-core',
  });
  if (hooks.onPoolCheckout) {
    client.on('connectionCheckedOut', () => hooks.onPoolCheckout?.(1));
    client.on('connectionCheckedIn', () => hooks.onPoolCheckout?.(-1));
  }
  await client.connect();
  const db = hooks.onCommand ? timeDb(client.db(dbName), hooks.onCommand) : client.db(dbName);
  const store: Store = {
    client,
    db,
    conversations: db.collection<ConversationDoc>(collectionNames.conversations),
    memberships: db.collection<MembershipDoc>(collectionNames.memberships),
    membershipRemovals: db.collection<MembershipRemovalDoc>(collectionNames.membershipRemovals),
    messages: db.collection<MessageDoc>(collectionNames.messages),
    skippedSeqs: db.collection<SkippedSeqDoc>(collectionNames.skippedSeqs),
    sessionRevocations: db.collection<SessionRevocationDoc>(collectionNames.sessionRevocations),
    instances: db.collection<InstanceDoc>(collectionNames.instances),
    async ping() {
      await db.command({ ping: 1 });
    },
    async close() {
      await client.close();
    },
  };
  await ensureIndexes(store);
  return store;
}

/**
 * The indexes one collection needs, declared once: the core creates them at start (createIndexes is
 * idempotent) and `ops preflight` checks that each is present, both from these lists.
 */
export interface IndexDeclaration {
  collection: string;
  indexes: (IndexDescription & { name: string })[];
}

export const storeIndexes: IndexDeclaration[] = [
  {
    collection: 'messages',
    indexes: [
      { key: { conversationId: 1, seq: 1 }, name: indexNames.messageSeq, unique: true },
      { key: { senderId: 1, clientMsgId: 1 }, name: indexNames.messageClientId, unique: true },
      { key: { conversationId: 1, terms: 1 }, name: indexNames.messageTerms },
    ],
  },
  {
    collection: 'memberships',
    indexes: [
      { key: { userId: 1, conversationId: 1 }, name: indexNames.membershipUser },
      { key: { conversationId: 1 }, name: indexNames.membershipConversation },
    ],
  },
  { collection: 'skipped_seqs', indexes: [{ key: { conversationId: 1, seq: 1 }, name: indexNames.skippedSeq, unique: true }] },
  // The per-request check is an _id lookup (unique by definition); this index serves the instances' sweeps.
  { collection: 'session_revocations', indexes: [{ key: { updatedAt: 1 }, name: indexNames.revocationUpdated }] },
  {
    collection: 'conversations',
    indexes: [
      { key: { lastMessageAt: -1 }, name: indexNames.conversationActivity },
    ],
  },
];

export async function createDeclaredIndexes(db: Db, declarations: IndexDeclaration[]): Promise<void> {
  for (const { collection, indexes } of declarations) await db.collection(collection).createIndexes(indexes);
}

/**
 * Indexes no query uses any more, dropped at start: each one is written on every change of its
 * fields. `activity_id` {activityAt, _id} ordered the conversation listing while it was a find over
 * the conversations; the listing is now an aggregation from the memberships (memberships-repository
 * `pageForUser`), which cannot use it, and every seq allocation rewrites `activityAt`.
 */
export const retiredIndexes: { collection: string; name: string }[] = [{ collection: collectionNames.conversations, name: 'activity_id' }];

async function dropRetiredIndexes(db: Db): Promise<void> {
  for (const { collection, name } of retiredIndexes) {
    try {
      await db.collection(collection).dropIndex(name);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      // Already gone (another instance dropped it, or a fresh database): nothing to do.
      if (code !== INDEX_NOT_FOUND && code !== NAMESPACE_NOT_FOUND) throw error;
    }
  }
}

export async function ensureIndexes(store: Store): Promise<void> {
  await createDeclaredIndexes(store.db, storeIndexes);
  await dropRetiredIndexes(store.db);
  await backfillActivity(store);
}

/**
 * Conversations stored before `activityAt` existed get it (lastMessageAt, else createdAt), in
 * batches, once: afterwards the query finds nothing. Idempotent and safe on every instance at once.
 */
async function backfillActivity(store: Store): Promise<void> {
  for (;;) {
    const batch = await store.conversations.find({ activityAt: { $exists: false } }, { projection: { _id: 1, lastMessageAt: 1, createdAt: 1 } }).limit(1000).toArray();
    if (!batch.length) return;
    await store.conversations.bulkWrite(
      batch.map((c) => ({ updateOne: { filter: { _id: c._id, activityAt: { $exists: false } }, update: { $set: { activityAt: c.lastMessageAt ?? c.createdAt } } } })),
      { ordered: false },
    );
    if (batch.length < 1000) return;
  }
}

import { Decimal128, Double, Int32, Long, ObjectId, type Db } from 'mongodb';
import { createDeclaredIndexes, storeIndexes } from '../../core/src/store/mongo-store';
import { directConversationId } from '../../core/src/domain/ids';
import { membershipId } from '../../core/src/store/documents';

/**
 * Seeds a database in the core's shapes (conversations, memberships, messages) with the core's own
 * indexes: unicode text, a few large documents, edited/deleted messages. Deterministic for a given size.
 */
export interface SeedOptions {
  messages: number;
  conversations?: number;
  /** Messages with a ~`largeDocBytes` text (default 3 of 1.5 MB). */
  largeDocs?: number;
  largeDocBytes?: number;
  batchSize?: number;
  onProgress?: (inserted: number) => void;
}

const words = ['hello', 'world', 'ünïcödé', 'naïve', 'café', '日本語', 'テスト', '中文', 'привет', 'мир', 'مرحبا', 'שלום', '🚀', '👩‍💻', 'e\u0301', 'straße', 'ok', 'deploy', 'rollback', 'backup'];
const users = Array.from({ length: 40 }, (_, i) => `user-${i}`);

export async function seedChatDatabase(db: Db, options: SeedOptions): Promise<{ conversations: number; memberships: number; messages: number }> {
  await createDeclaredIndexes(db, storeIndexes);
  const conversationCount = options.conversations ?? 50;
  const base = Date.UTC(2026, 0, 1);
  let rnd = 42;
  const next = () => { rnd = (rnd * 1103515245 + 12345) & 0x7fffffff; return rnd; };

  const convs: { _id: ObjectId; members: string[]; lastSeq: number }[] = [];
  const conversationDocs = [];
  const membershipDocs = [];
  for (let i = 0; i < conversationCount; i += 1) {
    const direct = i % 3 === 0;
    const k = Math.floor(i / 3); // direct pairs stay distinct up to ~700 conversations
    const members = direct
      ? [users[k % users.length]!, users[(k + 1 + Math.floor(k / users.length)) % users.length]!]
      : users.filter((_, u) => (u + i) % 5 === 0);
    const _id = direct ? directConversationId(members[0]!, members[1]!) : new ObjectId(Buffer.from(`conv${String(i).padStart(8, '0')}`));
    convs.push({ _id, members, lastSeq: 0 });
    conversationDocs.push({
      _id, type: direct ? 'direct' : 'group', name: direct ? null : `Gruppe ${i} — ${words[i % words.length]}`, createdBy: members[0]!,
      createdAt: new Date(base + i * 1000), lastSeq: 0, lastMessageAt: null as Date | null, ...(i % 7 === 6 ? { archivedAt: new Date(base + 86_400_000) } : {}),
    });
    for (const userId of members) {
      membershipDocs.push({ _id: membershipId(_id, userId), conversationId: _id, userId, role: userId === members[0] ? 'owner' : 'member', joinedAt: new Date(base + i * 1000), lastReadSeq: 0 });
    }
  }

  const batchSize = options.batchSize ?? 1000;
  const largeEvery = options.largeDocs ?? 3;
  const largeBytes = options.largeDocBytes ?? 1_500_000;
  let batch = [];
  let inserted = 0;
  const inFlight: Promise<unknown>[] = [];
  for (let m = 0; m < options.messages; m += 1) {
    const conv = convs[next() % convs.length]!;
    conv.lastSeq += 1;
    const senderId = conv.members[next() % conv.members.length]!;
    const picked = Array.from({ length: 3 + (next() % 12) }, () => words[next() % words.length]!);
    let text = picked.join(' ');
    if (largeEvery > 0 && m % Math.max(1, Math.floor(options.messages / largeEvery)) === 7) text = `${text} ${'Ω≈ç√∫ lorem ipsum '.repeat(Math.ceil(largeBytes / 24))}`.slice(0, largeBytes);
    const createdAt = new Date(base + m * 1500);
    batch.push({
      _id: new ObjectId(),
      conversationId: conv._id,
      seq: conv.lastSeq,
      senderId,
      clientMsgId: `c-${m}`,
      text,
      createdAt,
      terms: [...new Set(picked.map((w) => w.toLowerCase()))],
      ...(m % 50 === 0 ? { editedAt: new Date(createdAt.getTime() + 60_000) } : {}),
      ...(m % 97 === 0 ? { deletedAt: new Date(createdAt.getTime() + 120_000), text: '' } : {}),
    });
    if (batch.length >= batchSize) {
      const write = db.collection('messages').insertMany(batch, { ordered: false });
      write.catch(() => undefined); // rethrown in order by the await below, never an unhandled rejection
      inFlight.push(write);
      inserted += batch.length;
      batch = [];
      if (inFlight.length >= 2) await inFlight.shift();
      options.onProgress?.(inserted);
    }
  }
  if (batch.length) inFlight.push(db.collection('messages').insertMany(batch, { ordered: false }));
  await Promise.all(inFlight);

  for (const [i, c] of convs.entries()) {
    conversationDocs[i]!.lastSeq = c.lastSeq;
    conversationDocs[i]!.lastMessageAt = c.lastSeq ? new Date(base + options.messages * 1500) : null;
  }
  await db.collection('conversations').insertMany(conversationDocs);
  await db.collection<(typeof membershipDocs)[number]>('memberships').insertMany(membershipDocs);
  return { conversations: conversationDocs.length, memberships: membershipDocs.length, messages: options.messages };
}

/** One document per BSON type the archive must keep exactly (Int32 vs Double vs Long, Decimal128, Binary, nested). */
export async function seedTypedEdgeCases(db: Db): Promise<number> {
  const docs = [
    { _id: 'int-vs-double', i: new Int32(1), d: new Double(1), l: Long.fromString('9007199254740993'), dec: Decimal128.fromString('0.1') },
    { _id: 'nested', a: { b: [1, { c: 'ü' }, [new Date(0)]] }, empty: {}, emptyArr: [], nil: null, bool: false },
    { _id: 'binary', bin: Buffer.from([0, 1, 2, 255]), neg: -0.5, big: 1e300 },
    { _id: 'keys-order', z: 1, a: 2, m: 3, 'accentué': 'é' },
  ];
  await db.collection('typed_edge_cases').insertMany(docs as never[]);
  return docs.length;
}

import type { ObjectId } from 'mongodb';

/**
 * A file in object storage that a message carries, as stored on the message (media/ issues and checks
 * it). No readable URL: reads go through the membership-checked presigned GET (chat/views.ts
 * `downloadPath`).
 */
export interface AttachmentRef {
  id: string;
  filename: string;
  contentType: string;
  size: number;
  /** Messages stored before issue 21 carry the public object URL here; it is never returned (views.ts). */
  url?: string;
}

export type ConversationType = 'direct' | 'group';

export interface ConversationDoc {
  _id: ObjectId;
  type: ConversationType;
  name: string | null;
  /** Groups only: `open` groups can be joined by id; `private` (the default, and what a missing field means) only by an owner adding members. */
  visibility?: 'private' | 'open';
  createdBy: string;
  createdAt: Date;
  /** Highest seq handed out; `$inc`-ed once per message (seqs may skip, never repeat). */
  lastSeq: number;
  lastMessageAt: Date | null;
  /**
   * What the conversation listing orders by: `lastMessageAt`, or `createdAt` before the first message.
   * Stored (not computed) so the listing sorts on one field (a top-k sort on the server); written by
   * create and by every seq allocation, backfilled at start for documents older than the field.
   */
  activityAt?: Date;
  archivedAt?: Date | null;
  /**
   * Watermark: every seq ≤ settledSeq is stored or burned (a tombstone in skipped_seqs). Only ever
   * raised ($max), by the seq settler; missing means 0. Readers extend it from there.
   */
  settledSeq?: number;
  /**
   * Raised ($inc) by every departure (leave or removal) before it answers. Seq allocation returns
   * it, so a send batch sees that someone left since it last confirmed its senders' memberships and
   * re-reads them (chat/send-batcher.ts); missing means 0.
   */
  membershipEpoch?: number;
  /**
   * Written by `ops restore --into <live database>` on every conversation it restores (a new value
   * per restore): a restore rewinds seqs, so what a running instance remembered about this
   * conversation's burned seqs (store/seqs-repository.ts) no longer holds; missing means never restored.
   */
  restoreGeneration?: string;
}

/** A burned seq: reserved by a writer that will never store it (see store/seqs-repository.ts). */
export interface SkippedSeqDoc {
  conversationId: ObjectId;
  seq: number;
  burnedAt: Date;
}

export interface MembershipDoc {
  /** `<conversationId>:<userId>`: the unique key doubles as the _id, so checks are _id lookups. */
  _id: string;
  conversationId: ObjectId;
  userId: string;
  role: 'owner' | 'member';
  joinedAt: Date;
  lastReadSeq: number;
}

export interface MessageDoc {
  _id: ObjectId;
  conversationId: ObjectId;
  seq: number;
  senderId: string;
  clientMsgId: string;
  text: string;
  createdAt: Date;
  terms: string[];
  editedAt?: Date | null;
  deletedAt?: Date | null;
  /** Files in object storage this message carries (see core/src/media). */
  attachments?: AttachmentRef[];
}

export const membershipId = (conversationId: ObjectId, userId: string): string => `${conversationId.toHexString()}:${userId}`;

/**
 * A user's ended sessions (operator revocation, `POST /admin/users/:userId/end-sessions`): every
 * token of the user issued (`iat`) at or before `sessionsEndedAt` is refused from then on. One
 * document per user, keyed by the user id, so the check on every request is an `_id` lookup.
 */
export interface SessionRevocationDoc {
  _id: string;
  sessionsEndedAt: Date;
  /** Server time ($currentDate) of the last write: what each instance's sweep pages by. */
  updatedAt: Date;
  /** Instances that have ended their sockets of the user for this `sessionsEndedAt` (reset by each new revocation). */
  confirmedBy: string[];
}

/**
 * A departure (leave or removal) that must outlive a restore (ops/backup/forward-only.ts): keyed like
 * the membership it ended. A restore that puts back an older membership deletes it again when this
 * is at or after its `joinedAt`. `removedAt` only moves forward ($max); a later re-add has a later
 * `joinedAt`, so it stands.
 */
export interface MembershipRemovalDoc {
  _id: string;
  conversationId: ObjectId;
  userId: string;
  removedAt: Date;
}

/** One running core instance; `seenAt` (server time) is refreshed by its revocation sweep, about once a second. */
export interface InstanceDoc {
  _id: string;
  seenAt: Date;
}

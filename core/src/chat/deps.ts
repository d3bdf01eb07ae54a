import type { ConversationsRepository } from '../store/conversations-repository';
import type { MembershipsRepository } from '../store/memberships-repository';
import type { MessagesRepository } from '../store/messages-repository';
import type { SeqsRepository } from '../store/seqs-repository';
import type { ConversationId } from '../domain/ids';
import type { AttachmentRef } from '../store/documents';
import type { MessageView } from './views';

/** What the chat rules tell the outside world; the realtime gateway turns these into broadcasts. */
export interface ChatEvents {
  messageCreated(message: MessageView, acceptedAt: number): void;
  readMoved(event: { conversationId: ConversationId; userId: string; seq: number }): void;
  /** For `left`, resolves once every instance that answers in time has taken the user's sockets out of the room. */
  membershipChanged(event: { conversationId: ConversationId; userId: string; change: 'joined' | 'left' }): void | Promise<void>;
  /**
   * End every socket of a user on every instance: they left their last conversation. Not a
   * revocation (their token stays good, e.g. to start a new conversation), and nothing is left to
   * read (the removal already took the sockets out of the rooms, acknowledged): fire-and-forget.
   * An operator's revocation is durable and confirmed instead (realtime/session-revocation.ts).
   */
  endSessions(userId: string, reason: 'no_conversations'): void;
}

export interface ChatDeps {
  conversations: ConversationsRepository;
  memberships: MembershipsRepository;
  messages: MessagesRepository;
  /** Tombstones and watermark of burned seqs (README "Delivery contract"). */
  seqs: SeqsRepository;
  /** The background settler: told about conversations that may hold unsettled seqs. */
  settler?: { track(id: ConversationId): void; stored(id: ConversationId, from: number, to: number, settledSeq?: number): void };
  /** SEQ_SETTLE_MS. */
  seqSettleMs?: number;
  events: ChatEvents;
  /** Throws the rate_limited AppError when the user has sent too many messages. */
  limitMessages(userId: string): Promise<void>;
  maxMessageChars: number;
  /** GROUP_MAX_MEMBERS and MEMBERSHIPS_PER_USER_MAX; unlimited when absent. */
  membershipLimits?: { groupMaxMembers: number; membershipsPerUserMax: number };
  /** Most sends waiting to be stored on this instance (SEND_QUEUE_MAX); more answer `unavailable`. */
  maxSendQueue?: number;
  /** A send not confirmed stored within this answers `unavailable` (MONGODB_TIMEOUT_MS). */
  sendDeadlineMs?: number;
  /** Object-storage attachments; undefined when no bucket is configured. */
  attachments?: {
    resolveAttachments(userId: string, conversationId: string, attachmentIds: unknown): Promise<AttachmentRef[]>;
    markAttached(ids: string[], messageId: string): Promise<void>;
  };
  /** Seconds from accepting a send to its durable write. */
  observePersist(seconds: number): void;
  now(): Date;
}

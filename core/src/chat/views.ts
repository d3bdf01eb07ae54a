import type { AttachmentRef } from '../store/documents';
import type { ConversationDoc, MembershipDoc, MessageDoc } from '../store/documents';
import { conversationIdOf, messageIdOf, type ConversationId, type MessageId } from '../domain/ids';

/** The API's shapes: what HTTP responses, socket acks and broadcasts carry. */
export interface MessageView {
  id: MessageId;
  conversationId: ConversationId;
  seq: number;
  senderId: string;
  clientMsgId: string;
  text: string;
  createdAt: string;
  attachments?: AttachmentRef[];
}

export interface ConversationView {
  id: ConversationId;
  type: 'direct' | 'group';
  name: string | null;
  /** Groups only. */
  visibility?: 'private' | 'open';
  createdBy: string;
  createdAt: string;
  lastSeq: number;
  lastMessageAt: string | null;
  archivedAt: string | null;
  members?: { userId: string; role: string; joinedAt: string }[];
  unreadCount?: number;
  lastReadSeq?: number;
}

export function messageView(doc: MessageDoc): MessageView {
  const view: MessageView = {
    id: messageIdOf(doc._id),
    conversationId: conversationIdOf(doc.conversationId),
    seq: doc.seq,
    senderId: doc.senderId,
    clientMsgId: doc.clientMsgId,
    text: doc.text,
    createdAt: doc.createdAt.toISOString(),
  };
  if (doc.attachments?.length) view.attachments = doc.attachments;
  return view;
}

/**
 * `burnedUnread`: burned seqs (tombstones, README "Delivery contract") above the member's lastReadSeq;
 * they were never messages, so the unread count leaves them out.
 */
export function conversationView(doc: ConversationDoc, extra: { members?: MembershipDoc[]; membership?: MembershipDoc | null; burnedUnread?: number } = {}): ConversationView {
  const view: ConversationView = {
    id: conversationIdOf(doc._id),
    type: doc.type,
    name: doc.name,
    createdBy: doc.createdBy,
    createdAt: doc.createdAt.toISOString(),
    lastSeq: doc.lastSeq,
    lastMessageAt: doc.lastMessageAt ? doc.lastMessageAt.toISOString() : null,
    archivedAt: doc.archivedAt ? doc.archivedAt.toISOString() : null,
  };
  if (doc.type === 'group') view.visibility = doc.visibility ?? 'private';
  if (extra.members) view.members = extra.members.map((m) => ({ userId: m.userId, role: m.role, joinedAt: m.joinedAt.toISOString() }));
  if (extra.membership) {
    view.lastReadSeq = extra.membership.lastReadSeq;
    view.unreadCount = Math.max(0, doc.lastSeq - extra.membership.lastReadSeq - (extra.burnedUnread ?? 0));
  }
  return view;
}

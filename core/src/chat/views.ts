import type { ConversationDoc, MembershipDoc, MessageDoc } from '../store/documents';
import { conversationIdOf, messageIdOf, type ConversationId, type MessageId } from '../domain/ids';

/**
 * An attachment as the API shows it: no object URL (a link would outlive membership), only the
 * route a member calls for a short-lived presigned GET (GET <downloadPath> → { url, expiresAt }).
 */
export interface AttachmentView {
  id: string;
  filename: string;
  contentType: string;
  size: number;
  downloadPath: string;
}

/** The membership-checked route that issues a presigned GET for one attachment (conversations-router.ts). */
export function attachmentDownloadPath(conversationId: string, attachmentId: string): string {
  return `/api/conversations/${encodeURIComponent(conversationId)}/attachments/${encodeURIComponent(attachmentId)}`;
}

/** The API's shapes: what HTTP responses, socket acks and broadcasts carry. */
export interface MessageView {
  id: MessageId;
  conversationId: ConversationId;
  seq: number;
  senderId: string;
  clientMsgId: string;
  text: string;
  createdAt: string;
  attachments?: AttachmentView[];
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

/** What a message view reads: the stored document less its search terms (history pages leave them on the server). */
export type ShownMessageDoc = Omit<MessageDoc, 'terms'>;

export function messageView(doc: ShownMessageDoc): MessageView {
  const view: MessageView = {
    id: messageIdOf(doc._id),
    conversationId: conversationIdOf(doc.conversationId),
    seq: doc.seq,
    senderId: doc.senderId,
    clientMsgId: doc.clientMsgId,
    text: doc.text,
    createdAt: doc.createdAt.toISOString(),
  };
  // Field by field: a legacy stored `url` (public object URL) must not reach a client.
  if (doc.attachments?.length) {
    const conversationId = doc.conversationId.toHexString();
    view.attachments = doc.attachments.map((a) => ({ id: a.id, filename: a.filename, contentType: a.contentType, size: a.size, downloadPath: attachmentDownloadPath(conversationId, a.id) }));
  }
  return view;
}

/**
 * `burnedUnread`: burned seqs (tombstones, README "Delivery contract") above the member's lastReadSeq;
 * they were never messages, so the unread count leaves them out.
 */
export function conversationView(doc: ConversationDoc, extra: { members?: MembershipDoc[]; membership?: Pick<MembershipDoc, 'lastReadSeq'> | null; burnedUnread?: number } = {}): ConversationView {
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

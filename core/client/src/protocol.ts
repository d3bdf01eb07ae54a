/**
 * The wire contract as a client sees it: plain JSON shapes, no server code. These types are
 * self-contained so the published .d.ts needs nothing from the server; `protocol-check.ts` proves
 * at type-check time (`npm run build`) that they are exactly the core's own event and HTTP types
 * (core/src/realtime/events.ts, core/src/chat/views.ts, core/src/errors.ts), so a payload change in
 * the core breaks the client's build instead of its users.
 */

export type ErrorCode =
  | 'validation_failed' | 'unauthorized' | 'forbidden' | 'not_found' | 'conflict' | 'payload_too_large'
  | 'unsupported_media_type' | 'rate_limited' | 'internal' | 'maintenance' | 'unavailable';

/** The one error body: HTTP problem+json and socket `{ error }` acks. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  code: ErrorCode;
  detail: string;
  errors?: { path: string; message: string }[];
  retryAfter?: number;
  requestId?: string;
}

/**
 * An attachment on a message. There is no readable URL: `downloadPath` is the route that gives a
 * current member a short-lived presigned GET (`client.attachmentUrl()`); ask again once it expired.
 */
export interface AttachmentView {
  id: string;
  filename: string;
  contentType: string;
  size: number;
  downloadPath: string;
}

/** What GET <downloadPath> answers: fetch `url` before `expiresAt`. */
export interface AttachmentDownload {
  url: string;
  expiresAt: string;
}

export interface MessageView {
  id: string;
  conversationId: string;
  seq: number;
  senderId: string;
  clientMsgId: string;
  text: string;
  createdAt: string;
  attachments?: AttachmentView[];
}

export interface ConversationView {
  id: string;
  type: 'direct' | 'group';
  name: string | null;
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

export interface UploadTicket {
  attachmentId: string;
  key: string;
  method: 'PUT';
  uploadUrl: string;
  /** Headers the PUT must carry exactly (all signed); `if-none-match: *` makes the upload create-only. */
  headers: { 'content-type': string; 'content-length': string; 'if-none-match': '*' };
  expiresAt: string;
  /** Once the file is on a message, members read it through this route (presigned GET). */
  downloadPath: string;
}

export type SessionEndReason = 'token_expired' | 'revoked' | 'no_conversations';

export type Ack<T> = (response: T | { error: Problem }) => void;

export interface JoinAck { conversationId: string; lastSeq: number; lastReadSeq: number; typing: string[] }
export interface SendAck extends MessageView { duplicate: boolean }

export interface ClientToServerEvents {
  join_conversation(payload: { conversationId: string }, ack?: Ack<JoinAck>): void;
  leave_conversation(payload: { conversationId: string }, ack?: Ack<{ conversationId: string }>): void;
  send_message(payload: { conversationId: string; clientMsgId: string; text: string }, ack?: Ack<SendAck>): void;
  mark_read(payload: { conversationId: string; seq: number }, ack?: Ack<{ conversationId: string; lastReadSeq: number }>): void;
  typing_start(payload: { conversationId: string }, ack?: Ack<{ ok: true }>): void;
  typing_stop(payload: { conversationId: string }, ack?: Ack<{ ok: true }>): void;
  heartbeat(payload?: unknown, ack?: Ack<{ serverTime: string }>): void;
  renew_token(payload: { token: string }, ack?: Ack<{ expiresAt: string }>): void;
}

/** CONTRACT.md: tells a client to run catch-up for one conversation. */
export interface ConversationResync { conversationId: string; lastSeq: number }

export interface ServerToClientEvents {
  message_received(message: MessageView): void;
  message_read(event: { conversationId: string; userId: string; seq: number }): void;
  user_typing(event: { conversationId: string; userId: string; typing: boolean }): void;
  user_online(event: { conversationId: string; userId: string }): void;
  user_offline(event: { conversationId: string; userId: string }): void;
  server_shutdown(event: { reconnect: true; message: string }): void;
  session_ended(event: { reason: SessionEndReason; message: string }, ack: () => void): void;
  conversation_resync(event: ConversationResync): void;
}

/**
 * A history page (`GET /api/conversations/:id/messages?afterSeq=N`). `skipped`, `settledSeq` and
 * `lastSeq` come with the cross-instance delivery contract (CONTRACT.md); a core that does not send
 * them yet is handled safely: nothing is ever declared skipped that the page did not list as skipped.
 */
export interface HistoryPage {
  items: MessageView[];
  nextCursor?: number | string | null;
  skipped?: number[];
  settledSeq?: number;
  lastSeq?: number;
}

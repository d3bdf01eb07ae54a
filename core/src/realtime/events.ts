import type { Server } from 'socket.io';
import type { Problem } from '../errors';
import type { MessageView } from '../chat/views';
import type { ConversationId } from '../domain/ids';

/** An ack carries the result object, or `{ error }` with the same problem body HTTP sends. */
export type Ack<T> = (response: T | { error: Problem }) => void;

export interface ClientToServerEvents {
  /**
   * The ack says where the conversation stands and who is typing in it right now. Its `lastSeq` is
   * read after the socket joined the room: every message not received live is at or below it.
   */
  join_conversation(payload: { conversationId: string }, ack?: Ack<{ conversationId: ConversationId; lastSeq: number; lastReadSeq: number; typing: string[] }>): void;
  leave_conversation(payload: { conversationId: string }, ack?: Ack<{ conversationId: ConversationId }>): void;
  send_message(payload: { conversationId: string; clientMsgId: string; text: string }, ack?: Ack<MessageView & { duplicate: boolean }>): void;
  mark_read(payload: { conversationId: string; seq: number }, ack?: Ack<{ conversationId: ConversationId; lastReadSeq: number }>): void;
  typing_start(payload: { conversationId: string }, ack?: Ack<{ ok: true }>): void;
  typing_stop(payload: { conversationId: string }, ack?: Ack<{ ok: true }>): void;
  heartbeat(payload?: unknown, ack?: Ack<{ serverTime: string }>): void;
  /**
   * A fresh token for the same user, verified exactly like the handshake's: the session then lasts
   * until the new token's exp. Send it before `expiresAt` (the ack of each renewal says when).
   */
  renew_token(payload: { token: string }, ack?: Ack<{ expiresAt: string }>): void;
}

/** Why the server closed a session: renew or reconnect with a fresh token (`token_expired`), sign in again (`revoked`). */
export type SessionEndReason = 'token_expired' | 'revoked' | 'no_conversations';

export interface ServerToClientEvents {
  message_received(message: MessageView): void;
  message_read(event: { conversationId: ConversationId; userId: string; seq: number }): void;
  user_typing(event: { conversationId: ConversationId; userId: string; typing: boolean }): void;
  user_online(event: { conversationId: ConversationId; userId: string }): void;
  user_offline(event: { conversationId: ConversationId; userId: string }): void;
  server_shutdown(event: { reconnect: true; message: string }): void;
  /**
   * The session is over: nothing more is delivered, and the server disconnects once the client acks
   * (or after a second). Do not reconnect with the same token.
   */
  session_ended(event: { reason: SessionEndReason; message: string }, ack: () => void): void;
  /**
   * Broadcasts of this conversation may have been missed (the Redis adapter reconnected, or a
   * recovered session was re-checked and replaced by a fresh one): run the repair rule now —
   * fetch `afterSeq=<high>` (README "Skipped seqs"). `lastSeq` is the highest seq reserved so far.
   */
  conversation_resync(event: { conversationId: ConversationId; lastSeq: number }): void;
}

/** Between instances, through the Socket.IO adapter (Redis). Payloads are JSON: ids are parsed again on arrival. */
export interface InterServerEvents {
  /** Every instance takes the user's sockets out of the room, forgets the cached membership, then acks (the removal waits for the acks). */
  membership_left(event: { conversationId: string; userId: string }, ack: () => void): void;
  end_sessions(event: { userId: string; reason: SessionEndReason }): void;
  /**
   * An operator ended the user's sessions (recorded in the database first): every instance ends its
   * sockets of the user whose token was issued at or before `sessionsEndedAt` (epoch ms), then acks
   * with its instance id (realtime/session-revocation.ts).
   */
  sessions_revoked(event: { userId: string; sessionsEndedAt: number }, ack: (reply: { instance: string }) => void): void;
}

export interface SocketData {
  userId: string;
  requestId: string;
  /** Epoch ms after which the session's token is no longer accepted (exp + clock tolerance). */
  sessionEndsAt: number;
  /** When the session's token was issued (`iat`, epoch ms; renew_token replaces it): a revocation ends sessions issued at or before it. */
  issuedAt?: number;
  /** Set once the session has been ended (the disconnect follows shortly). */
  endedBy?: SessionEndReason;
  /** The conversation rooms it was in when ended (for the offline notice on disconnect). */
  conversationsAtEnd?: string[];
}

/** Room names take only canonical ids, so a client's spelling can never name a room of its own. */
export const conversationRoom = (conversationId: ConversationId) => `conv:${conversationId}`;
export const userRoom = (userId: string) => `user:${userId}`;

/** The typed Socket.IO server (here, not in gateway.ts, so the gateway's helpers can name it without a cycle). */
export type ChatServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

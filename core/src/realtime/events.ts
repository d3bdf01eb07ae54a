import type { Problem } from '../errors';
import type { MessageView } from '../chat/views';

/** An ack carries the result object, or `{ error }` with the same problem body HTTP sends. */
export type Ack<T> = (response: T | { error: Problem }) => void;

export interface ClientToServerEvents {
  /** The ack says where the conversation stands and who is typing in it right now. */
  join_conversation(payload: { conversationId: string }, ack?: Ack<{ conversationId: string; lastSeq: number; lastReadSeq: number; typing: string[] }>): void;
  leave_conversation(payload: { conversationId: string }, ack?: Ack<{ conversationId: string }>): void;
  send_message(payload: { conversationId: string; clientMsgId: string; text: string }, ack?: Ack<MessageView & { duplicate: boolean }>): void;
  mark_read(payload: { conversationId: string; seq: number }, ack?: Ack<{ conversationId: string; lastReadSeq: number }>): void;
  typing_start(payload: { conversationId: string }, ack?: Ack<{ ok: true }>): void;
  typing_stop(payload: { conversationId: string }, ack?: Ack<{ ok: true }>): void;
  heartbeat(payload?: unknown, ack?: Ack<{ serverTime: string }>): void;
}

export interface ServerToClientEvents {
  message_received(message: MessageView): void;
  message_read(event: { conversationId: string; userId: string; seq: number }): void;
  user_typing(event: { conversationId: string; userId: string; typing: boolean }): void;
  user_online(event: { conversationId: string; userId: string }): void;
  user_offline(event: { conversationId: string; userId: string }): void;
  server_shutdown(event: { reconnect: true; message: string }): void;
}

/** Between instances, through the Socket.IO adapter (Redis). */
export interface InterServerEvents {
  membership_left(event: { conversationId: string; userId: string }): void;
}

export interface SocketData {
  userId: string;
  requestId: string;
}

export const conversationRoom = (conversationId: string) => `conv:${conversationId}`;
export const userRoom = (userId: string) => `user:${userId}`;

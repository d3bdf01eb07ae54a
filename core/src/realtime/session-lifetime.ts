import type { Socket } from 'socket.io';
import type { ClientToServerEvents, InterServerEvents, ServerToClientEvents, SessionEndReason, SocketData } from './events';

type ChatSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

export const sessionEndMessages: Record<SessionEndReason, string> = {
  token_expired: 'Your token expired: renew_token before expiresAt, or reconnect with a fresh token.',
  revoked: 'Your session was ended by an operator; sign in again.',
  no_conversations: 'You left your last conversation; reconnect when you join another.',
};

export const isSessionEndReason = (value: unknown): value is SessionEndReason => typeof value === 'string' && Object.hasOwn(sessionEndMessages, value);

/** How long a client gets to acknowledge session_ended before the disconnect. */
const SESSION_END_NOTICE_MS = 1_000;
/** setTimeout's ceiling (~24.8 days); a longer session simply re-arms when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Ends a session now: it receives nothing more (leaves its conversation rooms) and every further
 * event is refused; the client is told why and then disconnected for good. With connection state
 * recovery an emit travels through the adapter first (to get an offset), so a disconnect right
 * after it would overtake it: the disconnect waits for the client's ack, or a second.
 */
export function endSession(socket: ChatSocket, reason: SessionEndReason): void {
  if (!socket.connected || socket.data.endedBy) return;
  socket.data.endedBy = reason;
  socket.data.conversationsAtEnd = [...socket.rooms].filter((r) => r.startsWith('conv:'));
  for (const room of socket.data.conversationsAtEnd) void socket.leave(room);
  socket.timeout(SESSION_END_NOTICE_MS).emit('session_ended', { reason, message: sessionEndMessages[reason] }, () => socket.disconnect(true));
}

/**
 * Ends the session at `socket.data.sessionEndsAt` (the token's exp plus the clock tolerance).
 * `arm()` again after the deadline moved (renew_token); `clear()` on disconnect.
 */
export function watchSessionDeadline(socket: ChatSocket, now: () => number) {
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    clearTimeout(timer);
    const remaining = socket.data.sessionEndsAt - now();
    if (remaining <= 0) return endSession(socket, 'token_expired');
    timer = setTimeout(arm, Math.min(remaining, MAX_TIMER_MS));
  };
  return { arm, clear: () => clearTimeout(timer), expired: () => now() >= socket.data.sessionEndsAt };
}

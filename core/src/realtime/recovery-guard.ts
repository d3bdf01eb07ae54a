import { Socket } from 'socket.io';
import { endedFor, type RevocationCache } from '../auth/session-revocations';
import type { TokenVerifier } from '../auth/tokens';
import type { ChatService } from '../chat/chat-service';
import { parseConversationId, type ConversationId } from '../domain/ids';
import { userRoom, type ChatServer } from './events';

/** Conversations a socket given a fresh session (instead of a refused recovery) must repair, with their lastSeq. */
const pendingResync = new WeakMap<object, { conversationId: ConversationId; lastSeq: number }[]>();

export const takePendingResync = (socket: object) => {
  const list = pendingResync.get(socket);
  pendingResync.delete(socket);
  return list ?? [];
};

interface RestoredSession { sid: string; pid: string; rooms: string[]; data: { userId?: unknown; issuedAt?: unknown }; missedPackets: unknown[] }

/**
 * Connection state recovery re-checks access before anything is replayed.
 *
 * In socket.io 4.8 `Namespace._createSocket` restores the saved session (adapter.restoreSession)
 * and the `Socket` constructor then rejoins the saved rooms and queues the missed packets — all
 * before any middleware runs, so the handshake middleware cannot stop it. Wrapping the adapter's
 * `restoreSession` alone is not enough: it does not see the handshake's `auth` (the new token).
 * So this replaces the namespace's `_createSocket` (same steps, same arguments) with one that
 * vets the restored session first: the new token verifies, names the same user as the session,
 * and every saved conversation room is still a membership, read from the database (not the 30 s
 * membership cache), and the session was not opened before the user's sessions were ended
 * (session-revocation.ts). Anything else gets a fresh session (`socket.recovered === false`, no
 * replay); the conversations the user is still in are then sent `conversation_resync` once it
 * connects, so the client catches up over history. (If the token is bad, the middleware then
 * refuses the handshake as usual.) Pinned to socket.io 4.8's internals: the recovery test fails
 * if an upgrade changes them.
 */
export function guardRecovery(io: ChatServer, deps: { verify: TokenVerifier; chat: ChatService; revocations: Pick<RevocationCache, 'endedAt'> }): void {
  const nsp = io.of('/') as unknown as {
    server: { opts: { connectionStateRecovery?: unknown } };
    adapter: { restoreSession(pid: string, offset: string): Promise<RestoredSession | null | undefined> };
    _createSocket(client: unknown, auth: Record<string, unknown>): Promise<Socket>;
  };
  if (!nsp.server.opts.connectionStateRecovery) return;

  async function vet(session: RestoredSession, auth: Record<string, unknown>): Promise<{ ok: boolean; resync: { conversationId: ConversationId; lastSeq: number }[] }> {
    let userId: string;
    try {
      userId = (await deps.verify(typeof auth.token === 'string' ? auth.token : undefined)).userId;
    } catch {
      return { ok: false, resync: [] };
    }
    if (session.data?.userId !== userId) return { ok: false, resync: [] };
    // A session opened with a token issued at or before the user's sessions were ended is over,
    // whatever the new token (read from the durable record, cached at most REVOCATION_CACHE_TTL_MS;
    // a failed read refuses the recovery). The new token itself was checked by verify above.
    try {
      const issuedAt = typeof session.data.issuedAt === 'number' ? session.data.issuedAt : undefined;
      if (endedFor(await deps.revocations.endedAt(userId), issuedAt)) return { ok: false, resync: [] };
    } catch {
      return { ok: false, resync: [] };
    }
    let ok = true;
    const resync: { conversationId: ConversationId; lastSeq: number }[] = [];
    for (const room of session.rooms) {
      if (room === session.sid || room === userRoom(userId)) continue;
      const conversationId = room.startsWith('conv:') ? parseConversationId(room.slice(5)) : undefined;
      if (!conversationId) {
        ok = false; // a room this gateway never makes
        continue;
      }
      try {
        const { lastSeq } = await deps.chat.conversations.position(userId, conversationId);
        resync.push({ conversationId, lastSeq });
      } catch {
        ok = false; // removed (or the conversation is gone), or the database cannot say: no replay
      }
    }
    return { ok, resync };
  }

  nsp._createSocket = async function createSocket(client, auth) {
    const pid = auth?.pid;
    const offset = auth?.offset;
    if (typeof pid === 'string' && typeof offset === 'string') {
      let session: RestoredSession | null | undefined;
      try {
        session = await nsp.adapter.restoreSession(pid, offset);
      } catch {
        session = undefined;
      }
      if (session) {
        const { ok, resync } = await vet(session, auth);
        if (ok) return new Socket(nsp as never, client as never, auth, session as never);
        const socket = new Socket(nsp as never, client as never, auth);
        pendingResync.set(socket, resync);
        return socket;
      }
    }
    return new Socket(nsp as never, client as never, auth);
  };
}

import type { ConversationId } from '../domain/ids';
import { conversationUseCases } from './conversation-use-cases';
import type { ChatDeps } from './deps';
import { createMembershipCache } from './membership-cache';
import { messageUseCases } from './message-use-cases';

/** The chat rules, used alike by the HTTP routes and the Socket.IO gateway. */
export function createChatService(deps: ChatDeps) {
  const membershipCache = createMembershipCache({ ttlMs: 30_000, maxEntries: 100_000 });
  return {
    conversations: conversationUseCases(deps, membershipCache),
    messages: messageUseCases(deps, membershipCache),
    /** Called when another instance reports that a user left a conversation. */
    forgetMembership: (conversationId: ConversationId, userId: string) => membershipCache.forget(conversationId, userId),
  };
}

export type ChatService = ReturnType<typeof createChatService>;

import { conversationUseCases } from './conversation-use-cases';
import type { ChatDeps } from './deps';
import { messageUseCases } from './message-use-cases';

/** The chat rules, used alike by the HTTP routes and the Socket.IO gateway. */
export function createChatService(deps: ChatDeps) {
  return {
    conversations: conversationUseCases(deps),
    messages: messageUseCases(deps),
  };
}

export type ChatService = ReturnType<typeof createChatService>;

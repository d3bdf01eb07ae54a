export { createClient } from './io';
export { SwitchboardClient, socketIoFactory, systemClock, tokenExpiry } from './client';
export type { ClientEvents, ClientOptions, Clock, ConnectionState, SocketFactory, SocketLike, TokenReason } from './client';
export { AuthError, SwitchboardError, isPermanent } from './errors';
export { fullJitter } from './backoff';
export { ConversationSequencer } from './sequencer';
export { IndexedDbOutboxStore, MemoryOutboxStore } from './store';
export type { OutboxEntry, OutboxStore } from './store';
export type * from './protocol';

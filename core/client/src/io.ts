import { io, type Socket } from 'socket.io-client';
import { SwitchboardClient, socketIoFactory, type ClientOptions, type SocketLike } from './client';
import type { ClientToServerEvents, ServerToClientEvents } from './protocol';

/** A client on socket.io-client (the usual entry point); tests pass their own `socketFactory`. */
export function createClient(options: Omit<ClientOptions, 'socketFactory'> & Partial<Pick<ClientOptions, 'socketFactory'>>): SwitchboardClient {
  return new SwitchboardClient({ socketFactory: socketIoFactory(io as unknown as (url: string, o: object) => SocketLike), ...options });
}

/** The core's Socket.IO connection typed by its event contract (protocol.ts), with none of the client's machinery. */
export type RawSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/**
 * A raw connection for tools that must see the core's deliveries as they arrive (duplicates, order)
 * at the lowest cost per message: the load generator measures the core against a bare relay with it,
 * and the outbox, sequencer and liveness timer of `createClient` cost it +17-21 % CPU per message
 * (605/601 vs 726/707 µs at rt.1k's shape). No reconnection, no token renewal: applications use
 * `createClient`. Connects at once (`connect` / `connect_error` tell the outcome).
 */
export function openRawSocket(url: string, options: { auth: Record<string, unknown>; timeoutMs?: number }): RawSocket {
  return io(url, { auth: options.auth, transports: ['websocket'], reconnection: false, forceNew: true, timeout: options.timeoutMs ?? 20_000, perMessageDeflate: false } as never) as RawSocket;
}

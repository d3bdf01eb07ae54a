import { io } from 'socket.io-client';
import { SwitchboardClient, socketIoFactory, type ClientOptions, type SocketLike } from './client';

/** A client on socket.io-client (the usual entry point); tests pass their own `socketFactory`. */
export function createClient(options: Omit<ClientOptions, 'socketFactory'> & Partial<Pick<ClientOptions, 'socketFactory'>>): SwitchboardClient {
  return new SwitchboardClient({ socketFactory: socketIoFactory(io as unknown as (url: string, o: object) => SocketLike), ...options });
}

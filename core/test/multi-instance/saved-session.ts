import { io as connect } from 'socket.io-client';
import { sleep, type ClientSocket } from '../harness';

/**
 * Connection state recovery from the client's side, shared by the suites that present a saved
 * session to another instance or after an end-sessions call: socket.io-client keeps the session id
 * and the last offset in private fields and sends them in CONNECT after a blip; these helpers do the
 * same on a fresh socket so the test chooses which instance and which token see them.
 */
export interface Session { pid: string; offset: string }

/** A client socket; with a saved session it presents it as socket.io-client does after a blip (pid + offset in CONNECT). */
export function open(url: string, auth: Record<string, unknown>, session?: Session): ClientSocket {
  const s = connect(url, { auth, transports: ['websocket'], reconnection: false, forceNew: true, autoConnect: false }) as ClientSocket;
  if (session) Object.assign(s, { _pid: session.pid, _lastOffset: session.offset });
  s.connect();
  return s;
}

/** Resolves on `connect`, rejects with the `connect_error` (its `data.code` says why). */
export const connected = (s: ClientSocket) => new Promise<void>((resolve, reject) => { s.once('connect', () => resolve()); s.once('connect_error', reject); });

/** A network blip: the transport closes under the client; the server saves the session (reason `transport close`). */
export async function blip(s: ClientSocket): Promise<Session> {
  const dropped = new Promise<void>((resolve) => s.once('disconnect', () => resolve()));
  (s as any).io.engine.close(); // the engine and the session fields are not in the public typings
  await dropped;
  const session = { pid: (s as any)._pid as string, offset: (s as any)._lastOffset as string };
  if (typeof session.pid !== 'string') throw new Error('the server offered no session to recover: is CONNECTION_STATE_RECOVERY on?');
  s.close();
  await sleep(200); // the instance persists the session in the Redis stream
  return session;
}

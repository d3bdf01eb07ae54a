import { randomUUID } from 'node:crypto';
import { io as connect, type Socket } from 'socket.io-client';
import { signLocalToken, tokenSettingsFrom } from '../../../core/src/auth/tokens';
import { loadConfig } from '../../../core/src/config';

const withTimeout = <T>(promise: Promise<T>, ms: number, what: string) =>
  Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms).unref())]);

/**
 * The smoke test a release must pass before it gets traffic: as two users, create a conversation over
 * HTTP, connect a socket to each of two instances, send over one and receive the broadcast on the other
 * (which also proves the instances share Redis fan-out).
 */
export async function smokeTest(urls: string[], settings: Record<string, string>): Promise<{ conversationId: string; seq: number }> {
  const config = loadConfig(settings);
  const tokens = tokenSettingsFrom(config);
  const [a, b] = ['ops-smoke-a', 'ops-smoke-b'];
  const tokenA = await signLocalToken(tokens, a, 300);
  const tokenB = await signLocalToken(tokens, b, 300);
  const first = urls[0]!;
  const last = urls[urls.length - 1]!;
  const created = await fetch(`${first}/api/conversations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${tokenA}`, 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'group', name: 'ops smoke test', memberIds: [b] }),
    signal: AbortSignal.timeout(5_000),
  });
  const conversation = (await created.json()) as { id?: string; code?: string; detail?: string };
  if (!created.ok || !conversation.id) throw new Error(`POST /api/conversations answered ${created.status}: ${conversation.code ?? ''} ${conversation.detail ?? ''}`);
  const conversationId = conversation.id;
  const sockets: Socket[] = [];
  const open = async (url: string, token: string) => {
    const socket = connect(url, { auth: { token }, transports: ['websocket'], reconnection: false, timeout: 5_000 });
    sockets.push(socket);
    await withTimeout(new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', (error) => reject(new Error(`socket connect to ${url} failed: ${error.message}`)));
    }), 6_000, `socket connect to ${url}`);
    const joined = (await withTimeout(socket.emitWithAck('join_conversation', { conversationId }), 5_000, 'join_conversation')) as { error?: { detail: string } };
    if (joined.error) throw new Error(`join_conversation failed: ${joined.error.detail}`);
    return socket;
  };
  try {
    const sender = await open(first, tokenA);
    const receiver = await open(last, tokenB);
    const text = `smoke ${randomUUID()}`;
    const received = new Promise<void>((resolve) => receiver.on('message_received', (m: { text?: string }) => m.text === text && resolve()));
    const ack = (await withTimeout(sender.emitWithAck('send_message', { conversationId, clientMsgId: randomUUID(), text }), 5_000, 'send_message ack')) as { seq?: number; error?: { detail: string } };
    if (ack.error || ack.seq === undefined) throw new Error(`send_message was not acknowledged: ${ack.error?.detail ?? 'no seq'}`);
    await withTimeout(received, 5_000, `message_received on ${last}`);
    return { conversationId, seq: ack.seq };
  } finally {
    for (const socket of sockets) socket.disconnect();
  }
}

import { randomUUID } from 'node:crypto';
import { signLocalToken, tokenSettingsFrom } from '../../../core/src/auth/tokens';
import { loadConfig } from '../../../core/src/config';
import { createClient, type SwitchboardClient } from '../../../core/client/src';

const withTimeout = <T>(promise: Promise<T>, ms: number, what: string) =>
  Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms).unref())]);

/** Connected and joined, or the reason it is not (the client itself keeps retrying; the smoke test does not wait). */
async function connectAndJoin(client: SwitchboardClient, url: string, conversationId: string): Promise<void> {
  let lastReason = 'no answer';
  let refused: Error | undefined;
  client.on('stateChange', (_state, _previous, info) => void (info.reason && (lastReason = info.reason)));
  client.on('error', (error) => void (refused = error));
  const joined = new Promise<void>((resolve) => client.on('joined', (ack) => ack.conversationId === conversationId && resolve()));
  client.subscribe(conversationId);
  client.connect();
  try {
    await withTimeout(new Promise<void>((resolve, reject) => {
      void joined.then(resolve);
      client.on('stateChange', (state) => state === 'closed' && reject(new Error(`socket to ${url} closed: ${lastReason}`)));
      client.on('error', (error) => reject(new Error(`join_conversation failed: ${error.message}`)));
    }), 6_000, `socket connect and join on ${url}`);
  } catch (error) {
    throw new Error(`${(error as Error).message} (last: ${refused?.message ?? lastReason})`, { cause: error });
  }
}

/**
 * The smoke test a release must pass before it gets traffic: as two users, create a conversation over
 * HTTP, connect a client (@switchboard/client) to each of two instances, send over one and receive the
 * broadcast on the other (which also proves the instances share Redis fan-out).
 */
export async function smokeTest(urls: string[], settings: Record<string, string>): Promise<{ conversationId: string; seq: number }> {
  const config = loadConfig(settings);
  const tokens = tokenSettingsFrom(config);
  const [a, b] = ['ops-smoke-a', 'ops-smoke-b'];
  const first = urls[0]!;
  const last = urls[urls.length - 1]!;
  const clientFor = (url: string, userId: string) =>
    createClient({ url, getToken: () => signLocalToken(tokens, userId, 300), ackTimeoutMs: 5_000, fetch: (input, init) => fetch(input, { ...init, signal: AbortSignal.timeout(5_000) }) });
  const sender = clientFor(first, a);
  const receiver = clientFor(last, b);
  try {
    const conversation = await sender.createConversation({ type: 'group', name: 'ops smoke test', memberIds: [b] }).catch((error: { status?: number; problem?: { code: string; detail: string }; message: string }) => {
      throw new Error(`POST /api/conversations answered ${error.status ?? 'no response'}: ${error.problem?.code ?? ''} ${error.problem?.detail ?? error.message}`, { cause: error });
    });
    const conversationId = conversation.id;
    await connectAndJoin(sender, first, conversationId);
    await connectAndJoin(receiver, last, conversationId);
    const text = `smoke ${randomUUID()}`;
    const received = new Promise<void>((resolve) => receiver.on('message', (m) => m.text === text && resolve()));
    const message = await withTimeout(sender.send(conversationId, text), 5_000, 'send_message ack').catch((error: Error) => {
      throw new Error(`send_message was not acknowledged: ${error.message}`);
    });
    await withTimeout(received, 5_000, `message_received on ${last}`);
    return { conversationId, seq: message.seq };
  } finally {
    sender.close();
    receiver.close();
  }
}

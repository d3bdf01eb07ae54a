/**
 * One cell of the client library's Node matrix (core/client/test/node-matrix.test.ts): run by the
 * Node under test, from the build directory, next to the built entry points it loads (`index.cjs`
 * through require, `index.mjs` through import; socket.io-client resolves from there as in an app).
 * Plain JavaScript so that any Node runs it as it is. Prints one JSON line: what it saw, or the error.
 *
 * env: SB_FORMAT (cjs|esm), SB_URL, SB_CONVERSATION, SB_TOKEN_A, SB_TOKEN_B
 */
import { createRequire } from 'node:module';

const env = process.env;
const require = createRequire(import.meta.url);
const lib = env.SB_FORMAT === 'cjs' ? require('./index.cjs') : await import('./index.mjs');
const { io } = env.SB_FORMAT === 'cjs' ? require('socket.io-client') : await import('socket.io-client');

const conversationId = env.SB_CONVERSATION;
const backoff = { baseMs: 100, maxMs: 500 };

async function until(what, check, timeoutMs = 20_000) {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function main() {
  // amy's sockets go through a gate: "offline" points new connections at a closed loopback port, so
  // a dropped connection cannot come back until the test lets it (a real reconnect, a real catch-up).
  let offline = false;
  let socket;
  const base = lib.socketIoFactory(io);
  const factory = (url, options) => (socket = base(offline ? 'http://127.0.0.1:9' : url, options));
  const amy = new lib.SwitchboardClient({ url: env.SB_URL, getToken: () => env.SB_TOKEN_A, socketFactory: factory, backoff });
  const bo = lib.createClient({ url: env.SB_URL, getToken: () => env.SB_TOKEN_B, backoff });
  const seen = { amy: [], bo: [] };
  const states = [];
  amy.on('message', (m) => seen.amy.push(`${m.seq}:${m.text}`));
  bo.on('message', (m) => seen.bo.push(`${m.seq}:${m.text}`));
  amy.on('stateChange', (state) => states.push(state));
  for (const client of [amy, bo]) client.on('error', () => undefined);

  try {
    // Outbox: three sends queued before there is a connection, flushed in order once connected.
    amy.subscribe(conversationId, { afterSeq: 0 });
    const sends = ['a1', 'a2', 'a3'].map((text) => amy.send(conversationId, text));
    await amy.ready();
    await until('the three sends to be queued', () => amy.pending().length === 3);
    const queued = amy.pending().length;
    amy.connect();
    bo.subscribe(conversationId, { afterSeq: 0 });
    bo.connect();
    await Promise.all(sends);
    await until('a1..a3 on both sides', () => seen.amy.length === 3 && seen.bo.length === 3);

    // Reconnect: the connection drops and stays down while bo sends; catch-up brings both back.
    offline = true;
    socket.io.engine.close();
    await until('amy to notice the drop', () => amy.state === 'reconnecting');
    await bo.send(conversationId, 'b1');
    await bo.send(conversationId, 'b2');
    await until('bo to see b1 b2', () => seen.bo.length === 5);
    const missedWhileDown = seen.amy.length;
    offline = false;
    await until('amy to catch up b1 b2', () => seen.amy.length >= 5);
    await new Promise((r) => setTimeout(r, 300)); // a duplicate would show up here
    return { node: process.version, format: env.SB_FORMAT, queued, missedWhileDown, amy: seen.amy, bo: seen.bo, states };
  } finally {
    amy.close();
    bo.close();
  }
}

main().then(
  (result) => {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    process.exit(0);
  },
  (error) => {
    process.stdout.write(`${JSON.stringify({ node: process.version, format: env.SB_FORMAT, error: String(error?.stack ?? error) })}\n`);
    process.exit(1);
  },
);

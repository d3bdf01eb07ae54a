/**
 * Baseline: a bare Socket.IO relay - rooms, acks, the core's event names, no auth and no persistence.
 * The core's delivery latency, saturation and heap per socket are reported as ratios to this one's.
 */
import http from 'node:http';
import { Server } from 'socket.io';

interface Send { conversationId?: string; clientMsgId?: string; text?: string }
type Ack = (response: unknown) => void;

const server = http.createServer((req, res) => {
  res.writeHead(req.url === '/health' ? 200 : 404, { 'content-type': 'application/json' });
  res.end('{"status":"ok"}');
});
const io = new Server(server, { maxHttpBufferSize: 65_536, pingInterval: 25_000, pingTimeout: 20_000 });
const seqs = new Map<string, number>();
let nextId = 0;

io.on('connection', (socket) => {
  const senderId = typeof socket.handshake.auth?.userId === 'string' ? socket.handshake.auth.userId : socket.id;
  socket.on('join_conversation', (payload: { conversationId?: string }, ack?: Ack) => {
    const id = String(payload?.conversationId);
    void socket.join(`conv:${id}`);
    ack?.({ conversationId: id, lastSeq: seqs.get(id) ?? 0, lastReadSeq: 0 });
  });
  socket.on('send_message', (payload: Send, ack?: Ack) => {
    const conversationId = String(payload?.conversationId);
    const seq = (seqs.get(conversationId) ?? 0) + 1;
    seqs.set(conversationId, seq);
    const message = { id: String(++nextId), conversationId, seq, senderId, clientMsgId: payload?.clientMsgId, text: payload?.text, createdAt: new Date().toISOString() };
    // Same order as the core: broadcast, then acknowledge.
    io.to(`conv:${conversationId}`).emit('message_received', message);
    ack?.({ ...message, duplicate: false });
  });
});

server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1', () => {
  console.error(`[bare-relay] listening on ${JSON.stringify(server.address())}`);
});
process.on('SIGTERM', () => io.close(() => process.exit(0)));

import type { Clock, SocketLike } from '../src/client';
import type { HistoryPage, MessageView, Problem } from '../src/protocol';

/** A manual clock: timers run only when the test advances time. */
export class FakeClock implements Clock {
  private t = 1_700_000_000_000;
  private seq = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();
  now = () => this.t;
  setTimeout = (fn: () => void, ms: number) => {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + Math.max(0, ms), fn });
    return id;
  };
  clearTimeout = (handle: unknown) => {
    this.timers.delete(handle as number);
  };
  /** Moves time forward, running due timers in order and letting promises settle in between. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await flush();
      const due = [...this.timers.entries()].filter(([, v]) => v.at <= end).sort((a, b) => a[1].at - b[1].at || a[0] - b[0])[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.t = Math.max(this.t, due[1].at);
      due[1].fn();
    }
    this.t = end;
    await flush();
  }
}

export const flush = async () => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};

export const problem = (status: number, code: Problem['code'], extra: Partial<Problem> = {}): Problem => ({ type: `https://switchboard.dev/problems/${code}`, title: code, status, code, detail: code, ...extra });

export function jwt(sub: string, expMs: number, n = 0): string {
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b64({ alg: 'none' })}.${b64({ sub, exp: Math.floor(expMs / 1000), n })}.sig`;
}

/**
 * An in-memory core: one conversation store, sockets that join rooms, acks and broadcasts. Knobs let a
 * test refuse handshakes, lose acks or broadcasts, and hold back seqs (allocated, not yet stored).
 */
export class FakeServer {
  messages = new Map<string, MessageView[]>();
  sockets = new Set<FakeSocket>();
  handshake: (token: string) => Problem | undefined = () => undefined;
  /** Per event: return a problem to refuse, 'drop' to never ack, undefined to handle. */
  intercept: (event: string, payload: any) => Problem | 'drop' | undefined = () => undefined;
  dropBroadcasts = false;
  received: { event: string; payload: any }[] = [];
  /** Seqs a test marks as burned (tombstoned) and the watermark the pages report. */
  burned = new Set<number>();
  settledSeq: number | undefined = undefined;
  withContract = true;
  historyCalls = 0;

  factory = (_url: string, { token }: { token: string }): SocketLike => {
    const socket = new FakeSocket(this, token);
    this.sockets.add(socket);
    return socket;
  };

  store(conversationId: string, seq: number, text = `m${seq}`, clientMsgId = `srv-${seq}`): MessageView {
    const message: MessageView = { id: `${conversationId}-${seq}`, conversationId, seq, senderId: 'srv', clientMsgId, text, createdAt: new Date(0).toISOString() };
    const list = this.messages.get(conversationId) ?? [];
    list.push(message);
    list.sort((a, b) => a.seq - b.seq);
    this.messages.set(conversationId, list);
    return message;
  }

  lastSeq(conversationId: string): number {
    const list = this.messages.get(conversationId) ?? [];
    return Math.max(0, ...list.map((m) => m.seq), ...this.burned);
  }

  broadcast(message: MessageView): void {
    if (this.dropBroadcasts) return;
    for (const s of this.sockets) if (s.connected && s.rooms.has(message.conversationId)) s.deliver('message_received', message);
  }

  fetch = async (url: string | URL | Request): Promise<Response> => {
    this.historyCalls++;
    const u = new URL(String(url));
    const match = /\/api\/conversations\/([^/]+)\/messages/.exec(u.pathname);
    if (!match) return new Response(JSON.stringify(problem(404, 'not_found')), { status: 404 });
    const id = decodeURIComponent(match[1]!);
    const after = Number(u.searchParams.get('afterSeq') ?? '0');
    const limit = Number(u.searchParams.get('limit') ?? '50');
    const items = (this.messages.get(id) ?? []).filter((m) => m.seq > after).slice(0, limit);
    const page: HistoryPage = { items, nextCursor: items.length === limit ? items[items.length - 1]!.seq : null };
    if (this.withContract) {
      page.skipped = [...this.burned].filter((s) => s > after).sort((a, b) => a - b);
      page.lastSeq = this.lastSeq(id);
      if (this.settledSeq !== undefined) page.settledSeq = this.settledSeq;
    }
    return new Response(JSON.stringify(page), { status: 200, headers: { 'content-type': 'application/json' } });
  };

  handle(socket: FakeSocket, event: string, payload: any, ack?: (r: unknown) => void): void {
    this.received.push({ event, payload });
    const intercepted = this.intercept(event, payload);
    if (intercepted === 'drop') return;
    if (intercepted) return ack?.({ error: intercepted });
    switch (event) {
      case 'join_conversation':
        socket.rooms.add(payload.conversationId);
        return ack?.({ conversationId: payload.conversationId, lastSeq: this.lastSeq(payload.conversationId), lastReadSeq: 0, typing: [] });
      case 'leave_conversation':
        socket.rooms.delete(payload.conversationId);
        return ack?.({ conversationId: payload.conversationId });
      case 'send_message': {
        const existing = (this.messages.get(payload.conversationId) ?? []).find((m) => m.clientMsgId === payload.clientMsgId);
        if (existing) return ack?.({ ...existing, duplicate: true });
        const message = this.store(payload.conversationId, this.lastSeq(payload.conversationId) + 1, payload.text, payload.clientMsgId);
        ack?.({ ...message, duplicate: false });
        return this.broadcast(message);
      }
      default:
        return ack?.({ ok: true });
    }
  }
}

export class FakeSocket implements SocketLike {
  connected = false;
  rooms = new Set<string>();
  private handlers = new Map<string, ((...args: any[]) => void)[]>();
  private pingHandlers: (() => void)[] = [];
  io = { on: (_e: 'ping', fn: () => void) => void this.pingHandlers.push(fn) };
  constructor(private readonly server: FakeServer, readonly token: string) {}
  on(event: string, fn: (...args: never[]) => void) {
    this.handlers.set(event, [...(this.handlers.get(event) ?? []), fn as (...args: any[]) => void]);
  }
  removeAllListeners() {
    this.handlers.clear();
    this.pingHandlers = [];
  }
  connect() {
    queueMicrotask(() => {
      const refused = this.server.handshake(this.token);
      if (refused) return this.deliver('connect_error', Object.assign(new Error(refused.detail), { data: refused }));
      this.connected = true;
      this.deliver('connect');
    });
  }
  disconnect() {
    const was = this.connected;
    this.connected = false;
    this.server.sockets.delete(this);
    if (was) this.deliver('disconnect', 'io client disconnect');
  }
  /** The server (or network) ends this connection. */
  drop(reason = 'transport close') {
    this.connected = false;
    this.server.sockets.delete(this);
    this.deliver('disconnect', reason);
  }
  ping() {
    for (const fn of this.pingHandlers) fn();
  }
  emit(event: string, ...args: unknown[]) {
    if (!this.connected) return;
    const ack = typeof args[args.length - 1] === 'function' ? (args.pop() as (r: unknown) => void) : undefined;
    queueMicrotask(() => this.server.handle(this, event, args[0], ack));
  }
  deliver(event: string, ...args: unknown[]) {
    for (const fn of this.handlers.get(event) ?? []) fn(...args);
  }
}

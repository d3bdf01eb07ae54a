import { fullJitter, type BackoffOptions } from './backoff';
import { Emitter } from './emitter';
import { AuthError, errorFromProblem, isPermanent, isProblem, SwitchboardError, type HttpInfo } from './errors';
import type { AttachmentDownload, AttachmentView, ConversationResync, ConversationView, HistoryPage, JoinAck, MessageView, Problem, SendAck, ServerToClientEvents, SessionEndReason, UploadTicket } from './protocol';
import { ConversationSequencer } from './sequencer';
import { MemoryOutboxStore, type OutboxEntry, type OutboxStore } from './store';

export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'closed';

/** The part of a socket.io-client Socket the client uses (a fake implements it in tests). */
export interface SocketLike {
  readonly connected: boolean;
  connect(): unknown;
  disconnect(): unknown;
  on(event: string, listener: (...args: never[]) => void): unknown;
  emit(event: string, ...args: unknown[]): unknown;
  removeAllListeners?(): unknown;
  /** socket.io-client's Manager: its `ping` events feed the liveness check. */
  io?: { on(event: 'ping', listener: () => void): unknown };
}
export type SocketFactory = (url: string, options: { token: string }) => SocketLike;

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export type TokenReason = 'connect' | 'renew' | 'rejected' | 'http';

export interface ClientOptions {
  /** The core's base URL, e.g. http://localhost:3000 (the API is under /api). */
  url: string;
  /** A valid token for the user. Throw `AuthError` to say "signed out"; any other failure is retried. */
  getToken(reason: TokenReason): Promise<string> | string;
  /** Required: socket.io-client's `io` wrapped by `socketIoFactory(io)`, or a fake in tests. */
  socketFactory: SocketFactory;
  store?: OutboxStore;
  fetch?: typeof fetch;
  clock?: Clock;
  random?: () => number;
  backoff?: BackoffOptions;
  /** How long an emit waits for its ack before it counts as lost (and is retried). */
  ackTimeoutMs?: number;
  /** No packet and no ping for this long: the connection is dead even if TCP says otherwise (keep it above the core's SOCKET_PING_INTERVAL_MS; default 50 s). */
  pingTimeoutMs?: number;
  /** Renew the token this long before its `exp`. */
  renewBeforeMs?: number;
  pageSize?: number;
  newClientMsgId?: () => string;
  /**
   * How `send()` reaches the core: `socket` (default; needs the connection) or `http` (POST
   * /messages; needs no connection: sends go out at once, from construction until `close()`).
   * Messages with attachments always go over HTTP.
   */
  sendTransport?: 'socket' | 'http';
  /** The wait before retrying a send that failed (default: the core's Retry-After, else full-jitter backoff). */
  retryDelay?(info: RetryInfo): number;
  /** Give up on an entry after this many attempts: `send()` rejects with the last error, event `failed` (default: never). */
  maxAttempts?: number;
  /**
   * `conversation` (default): per conversation, one outbox entry is in flight at a time, oldest
   * first, so messages are stored in the order they were sent, also when queued offline or retried
   * (each send is its own request: sent side by side, the core may store them in any order).
   * `none`: every entry goes out at once (load and fault tools that measure the core's throughput).
   */
  sendOrder?: 'conversation' | 'none';
}

/** One try of an outbox entry, as event `attempt` reports it (for load and fault tools: raw ack timing). */
export interface SendAttempt {
  clientMsgId: string;
  conversationId: string;
  /** 1 for the first try. */
  attempt: number;
  transport: 'socket' | 'http';
  /** Client clock (ms) when it was sent, and how long the answer took (or how long was waited for none). */
  startedAt: number;
  durationMs: number;
  /**
   * `acked`: stored (`duplicate`: an earlier attempt had stored it already); `refused`: the core answered
   * with a problem (`problem`); `timeout`: no answer within `ackTimeoutMs`; `failed`: no answer at all
   * (network error, connection gone).
   */
  outcome: 'acked' | 'refused' | 'timeout' | 'failed';
  message?: MessageView;
  duplicate?: boolean;
  problem?: Problem;
  /** HTTP sends: the response's status and Retry-After header (when a response came). */
  http?: HttpInfo;
}

export interface RetryInfo {
  entry: OutboxEntry;
  error: Error;
  problem?: Problem;
}

export interface ClientEvents {
  stateChange(state: ConnectionState, previous: ConnectionState, info: { reason?: string; delayMs?: number; attempt?: number }): void;
  /** In seq order per conversation, each message once. */
  message(message: MessageView): void;
  /** Seqs the core burned (never stored): nothing will arrive for them. */
  skipped(conversationId: string, seqs: number[]): void;
  /** Catch-up is waiting for seqs that may still be stored (not an error; for UIs and metrics). */
  waiting(conversationId: string, info: { high: number; attempt: number }): void;
  joined(ack: JoinAck): void;
  /**
   * The core asked for a repair of this conversation (`conversation_resync`: it may have missed a
   * broadcast). Subscribed conversations catch up by themselves; an app that only counts what a raw
   * subscription brings (a conversation list's unread counts) re-reads its state from the core.
   */
  resync(event: ConversationResync): void;
  read(event: Parameters<ServerToClientEvents['message_read']>[0]): void;
  typing(event: Parameters<ServerToClientEvents['user_typing']>[0]): void;
  online(event: Parameters<ServerToClientEvents['user_online']>[0]): void;
  offline(event: Parameters<ServerToClientEvents['user_offline']>[0]): void;
  /** An outbox entry was acknowledged (also for entries restored from a persistent store). */
  sent(entry: OutboxEntry, message: MessageView): void;
  /** An outbox entry was refused for good (a 4xx other than 429/401), or gave up after `maxAttempts`. */
  failed(entry: OutboxEntry, error: SwitchboardError): void;
  /** Every try of an outbox entry, with its outcome and timing (retries included). */
  attempt(attempt: SendAttempt): void;
  /**
   * Every `message_received` as it came off the socket, before ordering and de-duplication (for metrics
   * and tools that count the core's duplicates and gaps; applications want `message`).
   */
  broadcast(message: MessageView): void;
  sessionEnded(reason: SessionEndReason | 'unauthorized'): void;
  /** Non-fatal trouble worth logging (a join refused, a renewal that failed and will be retried). */
  error(error: Error): void;
}

interface OutboxRecord {
  entry: OutboxEntry;
  waiters: { resolve(m: MessageView): void; reject(e: Error): void }[];
  inFlight: boolean;
  retry?: unknown;
}

/** Adapts socket.io-client's `io` (kept out of the bundle: the app brings it). */
export function socketIoFactory(io: (url: string, options: object) => SocketLike): SocketFactory {
  return (url, { token }) => io(url, { autoConnect: false, reconnection: false, forceNew: true, transports: ['websocket'], auth: { token } });
}

/** The `exp` of a JWT in ms, or undefined (the client never verifies tokens; it only schedules renewal). */
export function tokenExpiry(token: string): number | undefined {
  try {
    const part = token.split('.')[1];
    if (!part) return undefined;
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
    const exp = (JSON.parse(json) as { exp?: unknown }).exp;
    return typeof exp === 'number' ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

const randomId = () => {
  const c = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  return c?.randomUUID ? c.randomUUID() : `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
};

export class SwitchboardClient extends Emitter<ClientEvents> {
  state: ConnectionState = 'closed';
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly store: OutboxStore;
  private readonly doFetch: typeof fetch;
  private readonly backoff: BackoffOptions;
  private readonly ackTimeoutMs: number;
  private readonly pingTimeoutMs: number;
  private readonly renewBeforeMs: number;
  private socket?: SocketLike;
  private token?: string;
  private attempt = 0;
  private authRejections = 0;
  private everConnected = false;
  private closedByApp = true;
  private generation = 0;
  private reconnectTimer?: unknown;
  private livenessTimer?: unknown;
  private renewTimer?: unknown;
  private readonly conversations = new Map<string, ConversationSequencer>();
  /** Conversations followed without ordering (`subscribe(id, { raw: true })`): joined on every connect. */
  private readonly rawConversations = new Set<string>();
  /** close() was called (and connect() not since): no sends, no retries. */
  private halted = false;
  private readonly sendTransport: 'socket' | 'http';
  private readonly ordered: boolean;
  private readonly outbox = new Map<string, OutboxRecord>();
  private readonly loaded: Promise<void>;

  constructor(private readonly options: ClientOptions) {
    super();
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.store = options.store ?? new MemoryOutboxStore();
    this.doFetch = options.fetch ?? ((...args) => fetch(...args));
    this.backoff = options.backoff ?? { baseMs: 500, maxMs: 15_000 };
    this.ackTimeoutMs = options.ackTimeoutMs ?? 10_000;
    this.pingTimeoutMs = options.pingTimeoutMs ?? 50_000;
    this.renewBeforeMs = options.renewBeforeMs ?? 60_000;
    this.sendTransport = options.sendTransport ?? 'socket';
    this.ordered = (options.sendOrder ?? 'conversation') === 'conversation';
    this.loaded = this.store.load().then(
      (entries) => {
        for (const entry of entries.sort((a, b) => a.createdAt - b.createdAt)) {
          if (!this.outbox.has(entry.clientMsgId)) this.outbox.set(entry.clientMsgId, { entry, waiters: [], inFlight: false });
        }
      },
      (error: unknown) => this.emit('error', error instanceof Error ? error : new Error(String(error))),
    );
  }

  // ---- connection ---------------------------------------------------------------------------

  /** Opens the connection (and keeps it open, reconnecting, until `close()`). */
  connect(): this {
    if (this.state !== 'closed') return this;
    this.closedByApp = false;
    this.halted = false;
    this.attempt = 0;
    void this.open();
    return this;
  }

  /** Closes for good. Queued sends stay in the store (a persistent one replays them next time). */
  close(reason = 'closed by the application'): void {
    this.closedByApp = true;
    this.halted = true;
    this.generation++;
    this.clearTimers();
    this.dropSocket();
    for (const record of this.outbox.values()) {
      if (record.retry !== undefined) this.clock.clearTimeout(record.retry);
      record.retry = undefined;
      record.inFlight = false;
      for (const waiter of record.waiters.splice(0)) waiter.reject(new SwitchboardError('closed', reason));
    }
    this.setState('closed', { reason });
  }

  /** Resolves when the outbox store has been read (entries queued before a reload are back). */
  ready(): Promise<void> {
    return this.loaded;
  }

  private setState(state: ConnectionState, info: { reason?: string; delayMs?: number; attempt?: number } = {}): void {
    if (state === this.state) return;
    const previous = this.state;
    this.state = state;
    this.emit('stateChange', state, previous, info);
  }

  private clearTimers(): void {
    for (const timer of [this.reconnectTimer, this.livenessTimer, this.renewTimer]) if (timer !== undefined) this.clock.clearTimeout(timer);
    this.reconnectTimer = this.livenessTimer = this.renewTimer = undefined;
  }

  private dropSocket(): void {
    const socket = this.socket;
    this.socket = undefined;
    if (!socket) return;
    socket.removeAllListeners?.();
    socket.disconnect();
  }

  private async getToken(reason: TokenReason): Promise<string> {
    const token = await this.options.getToken(reason);
    this.token = token;
    return token;
  }

  private async open(): Promise<void> {
    const generation = ++this.generation;
    this.setState(this.everConnected ? 'reconnecting' : 'connecting', { attempt: this.attempt });
    await this.loaded;
    let token: string;
    try {
      token = await this.getToken(this.authRejections ? 'rejected' : 'connect');
    } catch (error) {
      if (generation !== this.generation) return;
      if (error instanceof AuthError) return this.signedOut();
      // The identity provider blinked: that is not a sign-out. Try again later.
      this.emit('error', error instanceof Error ? error : new Error(String(error)));
      return this.scheduleReconnect('token_unavailable');
    }
    if (generation !== this.generation) return;
    const socket = this.options.socketFactory(this.options.url, { token });
    this.socket = socket;
    const live = <A extends unknown[]>(fn: (...args: A) => void) => (...args: A) => {
      if (this.socket !== socket) return;
      this.touch();
      fn(...args);
    };
    socket.on('connect', live(() => this.onConnected(token)));
    socket.on('connect_error', live((error: { data?: unknown }) => {
      const problem = isProblem(error?.data) ? error.data : undefined;
      if (problem?.status === 401) {
        // One fresh token per rejection; a second rejection in a row is a real sign-out.
        if (++this.authRejections >= 3) return this.signedOut();
        return this.scheduleReconnect('unauthorized', 0);
      }
      this.scheduleReconnect(problem ? `${problem.status} ${problem.code}` : 'connect_error', problem?.retryAfter ? problem.retryAfter * 1000 : undefined);
    }));
    socket.on('disconnect', live((reason: string) => this.scheduleReconnect(reason)));
    socket.on('message_received', live((message: MessageView) => {
      this.emit('broadcast', message);
      this.conversations.get(message.conversationId)?.onBroadcast(message);
    }));
    socket.on('conversation_resync', live((event: ConversationResync) => {
      this.conversations.get(event.conversationId)?.onResync(event.lastSeq);
      this.emit('resync', event);
    }));
    socket.on('message_read', live((event: Parameters<ClientEvents['read']>[0]) => this.emit('read', event)));
    socket.on('user_typing', live((event: Parameters<ClientEvents['typing']>[0]) => this.emit('typing', event)));
    socket.on('user_online', live((event: Parameters<ClientEvents['online']>[0]) => this.emit('online', event)));
    socket.on('user_offline', live((event: Parameters<ClientEvents['offline']>[0]) => this.emit('offline', event)));
    socket.on('session_ended', live((event: { reason: SessionEndReason }, ack?: () => void) => {
      if (typeof ack === 'function') ack();
      if (event.reason === 'token_expired') {
        // Renewal came too late: reconnect at once with a fresh token (not a sign-out).
        this.attempt = 0;
        return this.scheduleReconnect('token_expired', 0);
      }
      this.close(event.reason);
      this.emit('sessionEnded', event.reason);
    }));
    socket.io?.on('ping', () => {
      if (this.socket === socket) this.touch();
    });
    socket.connect();
  }

  private signedOut(): void {
    this.close('unauthorized');
    this.emit('sessionEnded', 'unauthorized');
  }

  private onConnected(token: string): void {
    this.attempt = 0;
    this.authRejections = 0;
    this.everConnected = true;
    this.setState('connected');
    this.scheduleRenew(token);
    // Subscribe first (join), then catch up: the join ack starts each conversation's repair.
    for (const sequencer of this.conversations.values()) void this.join(sequencer);
    for (const conversationId of this.rawConversations) void this.joinRaw(conversationId);
    this.flushOutbox();
  }

  private scheduleReconnect(reason: string, delayMs?: number): void {
    if (this.closedByApp) return;
    this.generation++;
    this.clearTimers();
    this.dropSocket();
    const delay = delayMs ?? fullJitter(this.attempt, this.backoff, this.random);
    this.attempt++;
    this.setState('reconnecting', { reason, delayMs: delay, attempt: this.attempt });
    this.reconnectTimer = this.clock.setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.open();
    }, delay);
  }

  /** Any packet or engine ping proves the connection alive; silence past pingTimeoutMs does not. */
  private touch(): void {
    if (this.livenessTimer !== undefined) this.clock.clearTimeout(this.livenessTimer);
    this.livenessTimer = this.clock.setTimeout(() => {
      this.livenessTimer = undefined;
      if (this.state === 'connected') this.scheduleReconnect('ping_timeout');
    }, this.pingTimeoutMs);
  }

  private scheduleRenew(token: string, attempt = 0): void {
    if (this.renewTimer !== undefined) this.clock.clearTimeout(this.renewTimer);
    const exp = tokenExpiry(token);
    if (exp === undefined) return;
    const lifetime = exp - this.clock.now();
    const at = attempt > 0 ? fullJitter(attempt, { baseMs: 1_000, maxMs: 30_000 }, this.random) + 1_000 : Math.max(1_000, lifetime - Math.min(this.renewBeforeMs, lifetime / 2));
    this.renewTimer = this.clock.setTimeout(() => {
      this.renewTimer = undefined;
      void this.renew(token, attempt);
    }, at);
  }

  private async renew(previous: string, attempt: number): Promise<void> {
    const generation = this.generation;
    let token: string;
    try {
      token = await this.getToken('renew');
    } catch (error) {
      if (generation !== this.generation) return;
      if (error instanceof AuthError) return this.signedOut();
      this.emit('error', error instanceof Error ? error : new Error(String(error)));
      return this.scheduleRenew(previous, attempt + 1);
    }
    try {
      await this.request('renew_token', { token });
      if (generation === this.generation) this.scheduleRenew(token);
    } catch (error) {
      if (generation !== this.generation) return;
      const problem = error instanceof SwitchboardError ? error.problem : undefined;
      if (problem?.status === 401 || problem?.status === 403) {
        this.authRejections++;
        return this.scheduleReconnect('renewal_refused', 0);
      }
      this.emit('error', error as Error);
      this.scheduleRenew(previous, attempt + 1);
    }
  }

  /** One acknowledged emit: resolves with the ack, rejects with a SwitchboardError (problem attached). */
  request<T = unknown>(event: string, payload: unknown, timeoutMs = this.ackTimeoutMs): Promise<T> {
    const socket = this.socket;
    if (!socket || this.state !== 'connected') return Promise.reject(new SwitchboardError('transient', 'not connected'));
    return new Promise<T>((resolve, reject) => {
      const timer = this.clock.setTimeout(() => reject(new SwitchboardError('timeout', `no ack for ${event} within ${timeoutMs} ms`)), timeoutMs);
      socket.emit(event, payload, (response: unknown) => {
        this.clock.clearTimeout(timer);
        if (response && typeof response === 'object' && 'error' in response && isProblem((response as { error: unknown }).error)) {
          reject(errorFromProblem((response as { error: Problem }).error));
        } else resolve(response as T);
      });
    });
  }

  // ---- conversations ------------------------------------------------------------------------

  /**
   * Delivers this conversation's messages (event `message`) in order, once. `afterSeq`: the last seq
   * the app already has (e.g. from its cache; 0 = from the start); omitted = from now on.
   * `raw: true` only joins the conversation's room (again after every reconnect): its messages come as
   * the core broadcasts them (event `broadcast`), with no ordering, de-duplication or catch-up — for
   * tools that measure the core's own delivery.
   */
  subscribe(conversationId: string, options: { afterSeq?: number; raw?: boolean } = {}): { unsubscribe(): void; readonly high: number | undefined } {
    if (options.raw) {
      if (!this.rawConversations.has(conversationId)) {
        this.rawConversations.add(conversationId);
        if (this.state === 'connected') void this.joinRaw(conversationId);
      }
      return {
        unsubscribe: () => {
          if (!this.rawConversations.delete(conversationId)) return;
          this.leaveIfUnfollowed(conversationId);
        },
        high: undefined,
      };
    }
    let sequencer = this.conversations.get(conversationId);
    if (!sequencer) {
      sequencer = new ConversationSequencer(
        conversationId,
        {
          fetchPage: (id, afterSeq, limit) => this.http<HistoryPage>('GET', `/conversations/${encodeURIComponent(id)}/messages?afterSeq=${afterSeq}&limit=${limit}`),
          deliver: (message) => this.emit('message', message),
          skipped: (id, seqs) => this.emit('skipped', id, seqs),
          waiting: (id, info) => this.emit('waiting', id, info),
          schedule: (fn, ms) => {
            const handle = this.clock.setTimeout(fn, ms);
            return () => this.clock.clearTimeout(handle);
          },
          random: this.random,
        },
        options.afterSeq,
        this.options.pageSize,
      );
      this.conversations.set(conversationId, sequencer);
      if (this.state === 'connected') void this.join(sequencer);
    }
    const s = sequencer;
    return {
      unsubscribe: () => {
        s.close();
        if (this.conversations.get(conversationId) !== s) return;
        this.conversations.delete(conversationId);
        this.leaveIfUnfollowed(conversationId);
      },
      get high() {
        return s.high;
      },
    };
  }

  /**
   * Leaves the room only when neither kind of subscription follows the conversation any more: one
   * room serves both, and a leave sent while the other still needs it could be handled after that
   * one's join (each waits on its own reads in the core) and leave the socket out of the room.
   */
  private leaveIfUnfollowed(conversationId: string): void {
    if (this.conversations.has(conversationId) || this.rawConversations.has(conversationId)) return;
    if (this.state === 'connected') this.request('leave_conversation', { conversationId }).catch(() => undefined);
  }

  private async join(sequencer: ConversationSequencer): Promise<void> {
    try {
      const ack = await this.request<JoinAck>('join_conversation', { conversationId: sequencer.conversationId });
      if (this.conversations.get(sequencer.conversationId) !== sequencer) return;
      this.emit('joined', ack);
      sequencer.onJoined(ack.lastSeq);
    } catch (error) {
      this.emit('error', error as Error);
      // Refused for good (403/404): stop following it. Otherwise the next connect joins again.
      if (error instanceof SwitchboardError && error.kind === 'refused') {
        sequencer.close();
        this.conversations.delete(sequencer.conversationId);
      }
    }
  }

  private async joinRaw(conversationId: string): Promise<void> {
    try {
      const ack = await this.request<JoinAck>('join_conversation', { conversationId });
      if (this.rawConversations.has(conversationId)) this.emit('joined', ack);
    } catch (error) {
      this.emit('error', error as Error);
      if (error instanceof SwitchboardError && error.kind === 'refused') this.rawConversations.delete(conversationId);
    }
  }

  // ---- outbox -------------------------------------------------------------------------------

  /**
   * Sends a message. It is stored in the outbox first, then sent (now or after reconnecting) and
   * retried with the same clientMsgId until the core acknowledges it (the promise resolves) or
   * refuses it for good (rejects with a SwitchboardError of kind `refused`).
   */
  async send(conversationId: string, text: string, options: { clientMsgId?: string; attachmentIds?: string[] } = {}): Promise<MessageView> {
    await this.loaded;
    const entry: OutboxEntry = {
      clientMsgId: options.clientMsgId ?? (this.options.newClientMsgId ?? randomId)(),
      conversationId,
      text,
      ...(options.attachmentIds?.length ? { attachmentIds: options.attachmentIds } : {}),
      createdAt: this.clock.now(),
      attempts: 0,
    };
    let record = this.outbox.get(entry.clientMsgId);
    if (!record) {
      record = { entry, waiters: [], inFlight: false };
      this.outbox.set(entry.clientMsgId, record);
      await this.store.put(entry);
    }
    const r = record;
    const settled = new Promise<MessageView>((resolve, reject) => r.waiters.push({ resolve, reject }));
    void this.trySend(r);
    return settled;
  }

  /** What is still queued (oldest first). */
  pending(): OutboxEntry[] {
    return [...this.outbox.values()].map((r) => ({ ...r.entry })).sort((a, b) => a.createdAt - b.createdAt);
  }

  private flushOutbox(): void {
    for (const entry of this.pending()) {
      const record = this.outbox.get(entry.clientMsgId);
      if (record && record.retry === undefined) void this.trySend(record);
    }
  }

  /** In order mode, only the oldest queued entry of its conversation may go out (see `sendOrder`). */
  private isHeadOf(record: OutboxRecord): boolean {
    if (!this.ordered) return true;
    for (const entry of this.pending()) {
      if (entry.conversationId === record.entry.conversationId) return entry.clientMsgId === record.entry.clientMsgId;
    }
    return true;
  }

  /** An entry left the outbox (acknowledged or refused for good): its conversation's next one may go. */
  private sendNextOf(conversationId: string): void {
    if (!this.ordered) return;
    const next = this.pending().find((e) => e.conversationId === conversationId);
    const record = next && this.outbox.get(next.clientMsgId);
    if (record && record.retry === undefined) void this.trySend(record);
  }

  /** Socket sends need the connection; HTTP sends only need the client not closed. */
  private overHttp(entry: OutboxEntry): boolean {
    return this.sendTransport === 'http' || !!entry.attachmentIds?.length;
  }

  private canSend(): boolean {
    return this.sendTransport === 'http' ? !this.halted : this.state === 'connected';
  }

  private async trySend(record: OutboxRecord): Promise<void> {
    if (record.inFlight || !this.canSend() || !this.isHeadOf(record)) return;
    record.inFlight = true;
    record.entry.attempts++;
    const { entry } = record;
    const overHttp = this.overHttp(entry);
    const startedAt = this.clock.now();
    const attempt: Omit<SendAttempt, 'durationMs' | 'outcome'> = { clientMsgId: entry.clientMsgId, conversationId: entry.conversationId, attempt: entry.attempts, transport: overHttp ? 'http' : 'socket', startedAt };
    try {
      let message: MessageView;
      let duplicate: boolean;
      if (overHttp) {
        const body = { clientMsgId: entry.clientMsgId, text: entry.text, ...(entry.attachmentIds?.length ? { attachmentIds: entry.attachmentIds } : {}) };
        const response = await this.exchange<MessageView>('POST', `/conversations/${encodeURIComponent(entry.conversationId)}/messages`, body, this.ackTimeoutMs);
        message = response.body;
        // 201 Created; 200 answers a clientMsgId that was already stored.
        duplicate = response.http.status === 200;
        this.emit('attempt', { ...attempt, durationMs: this.clock.now() - startedAt, outcome: 'acked', message, duplicate, http: response.http });
      } else {
        const ack = await this.request<SendAck>('send_message', { conversationId: entry.conversationId, clientMsgId: entry.clientMsgId, text: entry.text });
        duplicate = ack.duplicate === true;
        message = { ...ack };
        delete (message as Partial<SendAck>).duplicate;
        this.emit('attempt', { ...attempt, durationMs: this.clock.now() - startedAt, outcome: 'acked', message, duplicate });
      }
      this.outbox.delete(entry.clientMsgId);
      await this.store.delete(entry.clientMsgId).catch((error: unknown) => this.emit('error', error as Error));
      for (const waiter of record.waiters.splice(0)) waiter.resolve(message);
      this.emit('sent', entry, message);
      this.sendNextOf(entry.conversationId);
    } catch (error) {
      record.inFlight = false;
      const e = error instanceof Error ? error : new Error(String(error));
      const problem = e instanceof SwitchboardError ? e.problem : undefined;
      const outcome = problem ? 'refused' : e instanceof SwitchboardError && e.kind === 'timeout' ? 'timeout' : 'failed';
      const http = e instanceof SwitchboardError ? e.http : undefined;
      this.emit('attempt', { ...attempt, durationMs: this.clock.now() - startedAt, outcome, ...(problem ? { problem } : {}), ...(http ? { http } : {}) });
      const exhausted = this.options.maxAttempts !== undefined && entry.attempts >= this.options.maxAttempts;
      if (isPermanent(problem) || exhausted) {
        const final = e instanceof SwitchboardError ? e : new SwitchboardError('transient', e.message);
        this.outbox.delete(entry.clientMsgId);
        await this.store.delete(entry.clientMsgId).catch(() => undefined);
        for (const waiter of record.waiters.splice(0)) waiter.reject(final);
        this.emit('failed', entry, final);
        this.sendNextOf(entry.conversationId);
        return;
      }
      await this.store.put(entry).catch(() => undefined);
      if (!this.canSend() || !this.outbox.has(entry.clientMsgId)) return; // the next connect flushes it
      const delay = this.options.retryDelay
        ? this.options.retryDelay({ entry: { ...entry }, error: e, ...(problem ? { problem } : {}) })
        : problem?.retryAfter ? problem.retryAfter * 1000 : Math.max(100, fullJitter(entry.attempts, this.backoff, this.random));
      record.retry = this.clock.setTimeout(() => {
        record.retry = undefined;
        void this.trySend(record);
      }, delay);
    }
  }

  // ---- small typed calls --------------------------------------------------------------------

  typing(conversationId: string, typing: boolean): void {
    if (this.state === 'connected') this.request(typing ? 'typing_start' : 'typing_stop', { conversationId }).catch(() => undefined);
  }

  /** Moves the read position (over the socket when connected, else over HTTP). */
  markRead(conversationId: string, seq: number): Promise<{ conversationId: string; lastReadSeq: number }> {
    if (this.state === 'connected') return this.request('mark_read', { conversationId, seq });
    return this.http('POST', `/conversations/${encodeURIComponent(conversationId)}/read`, { seq });
  }

  listConversations(query: Record<string, string> = {}): Promise<{ items: ConversationView[]; nextCursor: string | null }> {
    const qs = new URLSearchParams(query).toString();
    return this.http('GET', `/conversations${qs ? `?${qs}` : ''}`);
  }

  createConversation(body: { type: 'direct' | 'group'; name?: string; memberIds: string[]; visibility?: 'private' | 'open' }): Promise<ConversationView> {
    return this.http('POST', '/conversations', body);
  }

  history(conversationId: string, query: { afterSeq?: number; beforeSeq?: number; limit?: number } = {}): Promise<HistoryPage> {
    const qs = new URLSearchParams(Object.entries(query).filter(([, v]) => v !== undefined).map(([k, v]) => [k, String(v)] as [string, string])).toString();
    return this.http('GET', `/conversations/${encodeURIComponent(conversationId)}/messages${qs ? `?${qs}` : ''}`);
  }

  /** Presigned upload: asks the core for a ticket, PUTs the bytes to object storage, returns the ticket. */
  async uploadAttachment(conversationId: string, file: { filename: string; contentType: string; body: Uint8Array | Blob }): Promise<UploadTicket> {
    const size = file.body instanceof Uint8Array ? file.body.byteLength : file.body.size;
    const ticket = await this.http<UploadTicket>('POST', `/conversations/${encodeURIComponent(conversationId)}/attachments`, { filename: file.filename, contentType: file.contentType, size });
    const response = await this.doFetch(ticket.uploadUrl, { method: ticket.method, headers: ticket.headers, body: file.body as unknown as RequestInit['body'] });
    if (!response.ok) throw new SwitchboardError(response.status >= 500 ? 'transient' : 'refused', `upload failed with HTTP ${response.status}`);
    return ticket;
  }

  /** Uploads the files, then sends one message carrying them (through the outbox). */
  async sendWithAttachments(conversationId: string, text: string, files: { filename: string; contentType: string; body: Uint8Array | Blob }[]): Promise<MessageView> {
    const tickets = [];
    for (const file of files) tickets.push(await this.uploadAttachment(conversationId, file));
    return this.send(conversationId, text, { attachmentIds: tickets.map((t) => t.attachmentId) });
  }

  /**
   * A short-lived presigned GET for an attachment on a message, issued only while this user is a
   * member (403 once removed). Attachments carry no readable URL: call this when showing or saving
   * one, and again once `expiresAt` has passed.
   */
  attachmentUrl(attachment: Pick<AttachmentView, 'downloadPath'>): Promise<AttachmentDownload> {
    // downloadPath is the core's full route; http() adds the /api prefix itself.
    const path = /^\/api\/conversations\/[^/?#]+\/attachments\/[^/?#]+$/.test(attachment.downloadPath) ? attachment.downloadPath.slice(4) : undefined;
    if (!path) return Promise.reject(new SwitchboardError('refused', `not an attachment download path: ${attachment.downloadPath}`));
    return this.http('GET', path);
  }

  /** The attachment's bytes, through a fresh presigned GET (attachmentUrl). */
  async downloadAttachment(attachment: Pick<AttachmentView, 'downloadPath'>): Promise<Uint8Array> {
    const { url } = await this.attachmentUrl(attachment);
    const response = await this.doFetch(url);
    if (!response.ok) throw new SwitchboardError(response.status >= 500 ? 'transient' : 'refused', `download failed with HTTP ${response.status}`);
    return new Uint8Array(await response.arrayBuffer());
  }

  /** An API call with the current token; one fresh token on 401; errors as SwitchboardError. */
  async http<T>(method: string, path: string, body?: unknown): Promise<T> {
    return (await this.exchange<T>(method, path, body)).body;
  }

  /** `http()` with the response's status and Retry-After header, and an optional timeout (kind `timeout`). */
  private async exchange<T>(method: string, path: string, body?: unknown, timeoutMs?: number): Promise<{ body: T; http: HttpInfo }> {
    for (let attempt = 0; ; attempt++) {
      const token = this.token && attempt === 0 ? this.token : await this.getToken(attempt === 0 ? 'http' : 'rejected');
      const abort = timeoutMs === undefined ? undefined : new AbortController();
      const timer = abort ? this.clock.setTimeout(() => abort.abort(), timeoutMs!) : undefined;
      let response: Response;
      let text: string;
      try {
        response = await this.doFetch(`${this.options.url}/api${path}`, {
          method,
          headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
          body: body === undefined ? undefined : JSON.stringify(body),
          ...(abort ? { signal: abort.signal } : {}),
        });
        text = await response.text();
      } catch (error) {
        if (abort?.signal.aborted) throw new SwitchboardError('timeout', `no answer to ${method} ${path} within ${timeoutMs} ms`);
        throw new SwitchboardError('transient', `network error: ${(error as Error).message}`);
      } finally {
        if (timer !== undefined) this.clock.clearTimeout(timer);
      }
      let parsed: unknown;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = undefined;
      }
      const http: HttpInfo = { status: response.status, retryAfter: response.headers.get('retry-after') };
      if (response.ok) return { body: parsed as T, http };
      if (response.status === 401 && attempt === 0) continue;
      const problem: Problem = isProblem(parsed)
        ? parsed
        : { type: 'about:blank', title: response.statusText, status: response.status, code: response.status >= 500 ? 'unavailable' : 'validation_failed', detail: `HTTP ${response.status}` };
      throw errorFromProblem(problem, http);
    }
  }
}

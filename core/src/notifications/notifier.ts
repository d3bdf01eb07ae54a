import { randomUUID } from 'node:crypto';
import { signWebhook, webhookHeaders } from './webhook-signature';

/** What the send path hands over after the message is durable (the MessageView fits). */
export interface NotifiableMessage {
  id: string;
  conversationId: string;
  seq: number;
  senderId: string;
  text: string;
  createdAt: string;
}

export interface NotifierMetrics {
  /** chat_notifications_total{outcome}: delivered | failed | dropped | no_recipients */
  notifications: { inc(labels: { outcome: string }, value?: number): void };
  /** chat_notification_attempts_total{result}: 2xx | 4xx | 429 | 5xx | network */
  attempts: { inc(labels: { result: string }, value?: number): void };
  /** chat_notification_queue_depth */
  queueDepth: { set(value: number): void };
}

export interface NotifierLogger {
  warn(obj: object, msg?: string): void;
  debug?(obj: object, msg?: string): void;
}

export interface NotifierOptions {
  /** Webhook URL; when unset notifyMessage does nothing. */
  webhookUrl?: string | undefined;
  /** HMAC-SHA256 key for the signature header. */
  secret: string;
  /** Characters of message text sent as `preview`; 0 sends none. */
  preview: number;
  /** Delivery attempts per notification, first included. */
  maxAttempts: number;
  /** The users among these with a socket open anywhere: called once per message, never per member. */
  onlineAmong(userIds: readonly string[]): Promise<ReadonlySet<string>>;
  listMembers(conversationId: string): Promise<string[]>;
  metrics?: NotifierMetrics;
  logger?: NotifierLogger;
  /** First retry delay; doubles per attempt, with jitter (50-100% of the delay). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Per-request timeout. */
  timeoutMs?: number;
  /** Webhook requests in flight at once. */
  concurrency?: number;
  /** Notifications waiting beyond this are dropped (counted), never buffered without bound. */
  maxQueue?: number;
  /**
   * Reuse a conversation's member list for this long (0: ask every time). Bounds the load of busy
   * conversations; a member who left may still be notified for this long.
   */
  membersCacheMs?: number;
}

interface Task {
  message: NotifiableMessage;
  deliveryId: string;
  attempt: number;
  recipients?: string[];
}

export interface WebhookBody {
  type: 'message.created';
  deliveryId: string;
  conversationId: string;
  messageId: string;
  seq: number;
  senderId: string;
  recipients: string[];
  createdAt: string;
  preview?: string;
}

/**
 * Offline notifications through a signed webhook. notifyMessage only enqueues (no await, no
 * throw); a small worker pool finds the members with no connected socket, posts the webhook and
 * retries with exponential backoff and jitter. 4xx answers other than 408/429 are final.
 */
export function createNotifier(options: NotifierOptions) {
  const baseDelayMs = options.baseDelayMs ?? 500;
  const maxDelayMs = options.maxDelayMs ?? 60_000;
  const timeoutMs = options.timeoutMs ?? 5_000;
  const concurrency = options.concurrency ?? 4;
  const maxQueue = options.maxQueue ?? 10_000;
  const queue: Task[] = [];
  const retryTimers = new Map<NodeJS.Timeout, Task>();
  const inFlight = new Set<AbortController>();
  let active = 0;
  let pumpScheduled = false;
  let stopping = false;
  let stopped = false;
  let idleWaiters: (() => void)[] = [];
  const membersCacheMs = options.membersCacheMs ?? 5_000;
  const membersCache = new Map<string, { at: number; members: Promise<string[]> }>();

  /** One lookup per conversation at a time (concurrent deliveries share it); failures are not cached. */
  function members(conversationId: string): Promise<string[]> {
    if (membersCacheMs <= 0) return options.listMembers(conversationId);
    const hit = membersCache.get(conversationId);
    if (hit && Date.now() - hit.at < membersCacheMs) return hit.members;
    const lookup = options.listMembers(conversationId);
    membersCache.delete(conversationId);
    membersCache.set(conversationId, { at: Date.now(), members: lookup });
    if (membersCache.size > 10_000) membersCache.delete(membersCache.keys().next().value!);
    lookup.catch(() => membersCache.delete(conversationId));
    return lookup;
  }

  const count = (outcome: string, n = 1) => options.metrics?.notifications.inc({ outcome }, n);
  const depth = () => options.metrics?.queueDepth.set(queue.length + retryTimers.size);
  const isIdle = () => active === 0 && queue.length === 0 && retryTimers.size === 0;
  const checkIdle = () => {
    if (!isIdle()) return;
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const w of waiters) w();
  };

  function schedulePump() {
    if (pumpScheduled) return;
    pumpScheduled = true;
    setImmediate(() => {
      pumpScheduled = false;
      pump();
    });
  }

  function pump() {
    while (!stopped && active < concurrency && queue.length > 0) {
      const task = queue.shift()!;
      active += 1;
      depth();
      void deliver(task).finally(() => {
        active -= 1;
        pump();
        checkIdle();
      });
    }
  }

  function retryDelay(attempt: number, retryAfterS: number | undefined): number {
    const exp = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
    const jittered = exp / 2 + Math.random() * (exp / 2);
    return Math.min(maxDelayMs, Math.max(jittered, (retryAfterS ?? 0) * 1000));
  }

  function retryLater(task: Task, retryAfterS?: number) {
    if (task.attempt >= options.maxAttempts || stopping) {
      count(stopping ? 'dropped' : 'failed');
      options.logger?.warn({ conversationId: task.message.conversationId, messageId: task.message.id, attempts: task.attempt, deliveryId: task.deliveryId }, 'notification webhook gave up');
      return;
    }
    const timer = setTimeout(() => {
      retryTimers.delete(timer);
      queue.push(task);
      pump();
    }, retryDelay(task.attempt, retryAfterS));
    timer.unref();
    retryTimers.set(timer, task);
    depth();
  }

  async function deliver(task: Task): Promise<void> {
    task.attempt += 1;
    const { message } = task;
    try {
      if (!task.recipients) {
        const candidates = (await members(message.conversationId)).filter((m) => m !== message.senderId);
        const online = candidates.length ? await options.onlineAmong(candidates) : new Set<string>();
        task.recipients = candidates.filter((m) => !online.has(m));
      }
    } catch (error) {
      options.logger?.warn({ err: error, messageId: message.id }, 'could not list offline recipients');
      retryLater(task);
      return;
    }
    if (task.recipients.length === 0) {
      count('no_recipients');
      return;
    }
    const body: WebhookBody = {
      type: 'message.created', deliveryId: task.deliveryId, conversationId: message.conversationId, messageId: message.id,
      seq: message.seq, senderId: message.senderId, recipients: task.recipients, createdAt: message.createdAt,
      ...(options.preview > 0 ? { preview: [...message.text].slice(0, options.preview).join('') } : {}),
    };
    const json = JSON.stringify(body);
    const timestamp = Math.floor(Date.now() / 1000);
    const controller = new AbortController();
    inFlight.add(controller);
    const timeout = setTimeout(() => controller.abort(), timeoutMs);
    try {
      const response = await fetch(options.webhookUrl!, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'switchboard-notifier/1',
          [webhookHeaders.timestamp]: String(timestamp),
          [webhookHeaders.signature]: signWebhook(options.secret, timestamp, json),
          [webhookHeaders.delivery]: task.deliveryId,
        },
        body: json,
        signal: controller.signal,
      });
      await response.arrayBuffer().catch(() => undefined);
      const status = response.status;
      const result = status === 429 ? '429' : `${Math.floor(status / 100)}xx`;
      options.metrics?.attempts.inc({ result });
      if (status >= 200 && status < 300) {
        count('delivered');
      } else if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
        count('failed');
        options.logger?.warn({ status, messageId: message.id, deliveryId: task.deliveryId }, 'notification webhook refused the delivery');
      } else {
        const retryAfter = Number(response.headers.get('retry-after'));
        retryLater(task, Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined);
      }
    } catch {
      options.metrics?.attempts.inc({ result: 'network' });
      retryLater(task);
    } finally {
      clearTimeout(timeout);
      inFlight.delete(controller);
    }
  }

  return {
    /** Hot path: enqueue and return. Never throws, never waits. */
    notifyMessage(message: NotifiableMessage): void {
      if (!options.webhookUrl || stopping) return;
      if (queue.length + retryTimers.size + active >= maxQueue) {
        count('dropped');
        return;
      }
      queue.push({ message, deliveryId: randomUUID(), attempt: 0 });
      schedulePump();
    },

    /** Notifications queued, waiting to retry, or in flight. */
    pending(): number {
      return queue.length + retryTimers.size + active;
    },

    /** Resolves once nothing is queued, waiting or in flight (tests, shutdown). */
    idle(): Promise<void> {
      if (isIdle()) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },

    /**
     * Stops taking notifications, cancels pending retries (counted as dropped), lets queued and
     * in-flight deliveries finish for up to `drainMs`, then aborts what is left.
     */
    async stop(drainMs = 3_000): Promise<void> {
      if (stopped) return;
      stopping = true;
      for (const [timer] of retryTimers) clearTimeout(timer);
      count('dropped', retryTimers.size);
      retryTimers.clear();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.idle(),
        new Promise<void>((resolve) => { timer = setTimeout(resolve, drainMs); }),
      ]);
      clearTimeout(timer);
      stopped = true;
      count('dropped', queue.length);
      queue.length = 0;
      for (const c of inFlight) c.abort();
      depth();
      checkIdle();
    },
  };
}

export type Notifier = ReturnType<typeof createNotifier>;

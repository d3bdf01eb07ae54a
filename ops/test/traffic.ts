import { randomUUID } from 'node:crypto';
import { createClient } from '../../core/client/src';

export interface TrafficReport {
  http: { ok: number; failed: number; connectionRetries: number; failures: string[] };
  socket: { sent: number; acked: number; retries: number; reconnects: number; received: number; ackedIds: string[]; failures: string[] };
}

/**
 * Continuous traffic through the front door while a deploy runs: HTTP readers (keep-alive, like a
 * browser) and a @switchboard/client sending messages with acks (its outbox retries with the same
 * clientMsgId across reconnects: the client contract in DESIGN.md), plus a second client counting the
 * broadcasts it receives.
 */
export function startTraffic(options: { url: string; token: string; receiverToken: string; conversationId: string; httpConcurrency?: number; messageEveryMs?: number }) {
  const report: TrafficReport = { http: { ok: 0, failed: 0, connectionRetries: 0, failures: [] }, socket: { sent: 0, acked: 0, retries: 0, reconnects: 0, received: 0, ackedIds: [], failures: [] } };
  let running = true;
  const auth = { authorization: `Bearer ${options.token}` };

  /**
   * A GET, retried once when the connection closes before any response: what browsers do (RFC 9110
   * 9.2.2) when a reused keep-alive connection races the server closing it. nginx's graceful reload
   * closes idle keep-alive connections, so such retries are counted and reported separately.
   */
  const get = async (url: string) => {
    try {
      return await fetch(url, { headers: auth, signal: AbortSignal.timeout(5_000) });
    } catch (error) {
      if ((error as Error).name === 'TimeoutError') throw error;
      report.http.connectionRetries++;
      return fetch(url, { headers: auth, signal: AbortSignal.timeout(5_000) });
    }
  };

  const httpLoop = async () => {
    while (running) {
      try {
        const response = await get(`${options.url}/api/conversations/${options.conversationId}/messages?limit=5`);
        await response.arrayBuffer();
        if (response.status === 200) report.http.ok++;
        else {
          report.http.failed++;
          report.http.failures.push(`HTTP ${response.status}`);
        }
      } catch (error) {
        report.http.failed++;
        report.http.failures.push(`${(error as Error).message} ${String((error as Error & { cause?: Error }).cause?.message ?? '')}`);
      }
    }
  };

  // The sender's outbox retries with the same clientMsgId (3 s ack timeout, 100 ms apart, 20 tries at most);
  // both clients reconnect fast (50-300 ms backoff) and join the conversation again after every reconnect.
  const clientOptions = { url: options.url, ackTimeoutMs: 3_000, backoff: { baseMs: 50, maxMs: 300 }, retryDelay: () => 100, maxAttempts: 20 };
  const sender = createClient({ ...clientOptions, getToken: () => options.token });
  const receiver = createClient({ ...clientOptions, getToken: () => options.receiverToken });
  const seen = new Set<string>();
  for (const c of [sender, receiver]) {
    c.on('error', () => undefined);
    c.subscribe(options.conversationId, { raw: true });
  }
  sender.on('stateChange', (state) => {
    if (state === 'connected' && report.socket.sent > 0) report.socket.reconnects++;
  });
  sender.on('attempt', (a) => {
    if (a.attempt > 1) report.socket.retries++;
    if (a.outcome === 'refused') report.socket.failures.push(`ack error ${a.problem?.code}`);
    else if (a.outcome !== 'acked') report.socket.failures.push(a.outcome);
  });
  receiver.on('broadcast', (m) => {
    if (!seen.has(m.id)) {
      seen.add(m.id);
      report.socket.received++;
    }
  });
  sender.connect();
  receiver.connect();

  const sendOne = async () => {
    const clientMsgId = randomUUID();
    report.socket.sent++;
    try {
      const message = await sender.send(options.conversationId, `traffic ${clientMsgId}`, { clientMsgId });
      report.socket.acked++;
      report.socket.ackedIds.push(message.id);
    } catch (error) {
      report.socket.failures.push(`gave up: ${(error as Error).message}`);
    }
  };
  const sendLoop = async () => {
    while (running) {
      await sendOne();
      await new Promise((r) => setTimeout(r, options.messageEveryMs ?? 25));
    }
  };

  const loops = [...Array.from({ length: options.httpConcurrency ?? 4 }, httpLoop), sendLoop()];
  return {
    report,
    ready: () => new Promise<void>((resolve) => (sender.state === 'connected' && receiver.state === 'connected' ? resolve() : setTimeout(resolve, 500))),
    async stop(): Promise<TrafficReport> {
      running = false;
      await Promise.all(loops);
      await new Promise((r) => setTimeout(r, 500));
      sender.close();
      receiver.close();
      return report;
    },
  };
}

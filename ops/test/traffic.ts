import { randomUUID } from 'node:crypto';
import { io as connect, type Socket } from 'socket.io-client';

export interface TrafficReport {
  http: { ok: number; failed: number; connectionRetries: number; failures: string[] };
  socket: { sent: number; acked: number; retries: number; reconnects: number; received: number; ackedIds: string[]; failures: string[] };
}

/**
 * Continuous traffic through the front door while a deploy runs: HTTP readers (keep-alive, like a
 * browser) and a socket client sending messages with acks, retrying with the same clientMsgId after a
 * reconnect (the client contract in DESIGN.md), plus a second socket counting broadcasts.
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

  const socketOptions = { transports: ['websocket'], reconnectionDelay: 50, reconnectionDelayMax: 300 };
  const sender: Socket = connect(options.url, { ...socketOptions, auth: { token: options.token } });
  const receiver: Socket = connect(options.url, { ...socketOptions, auth: { token: options.receiverToken } });
  const seen = new Set<string>();
  for (const s of [sender, receiver]) {
    s.on('connect', () => {
      if (s === sender && report.socket.sent > 0) report.socket.reconnects++;
      s.emit('join_conversation', { conversationId: options.conversationId });
    });
  }
  receiver.on('message_received', (m: { clientMsgId?: string; id: string }) => {
    if (!seen.has(m.id)) {
      seen.add(m.id);
      report.socket.received++;
    }
  });

  const sendOne = async () => {
    const clientMsgId = randomUUID();
    report.socket.sent++;
    for (let attempt = 0; attempt < 20; attempt++) {
      if (attempt > 0) report.socket.retries++;
      try {
        const ack = (await sender.timeout(3_000).emitWithAck('send_message', { conversationId: options.conversationId, clientMsgId, text: `traffic ${clientMsgId}` })) as { id?: string; error?: { code: string } };
        if (ack.id) {
          report.socket.acked++;
          report.socket.ackedIds.push(ack.id);
          return;
        }
        report.socket.failures.push(`ack error ${ack.error?.code}`);
      } catch (error) {
        report.socket.failures.push((error as Error).message);
      }
      await new Promise((r) => setTimeout(r, 100));
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
    ready: () => new Promise<void>((resolve) => (sender.connected && receiver.connected ? resolve() : setTimeout(resolve, 500))),
    async stop(): Promise<TrafficReport> {
      running = false;
      await Promise.all(loops);
      await new Promise((r) => setTimeout(r, 500));
      sender.disconnect();
      receiver.disconnect();
      return report;
    },
  };
}

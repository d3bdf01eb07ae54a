import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Local stand-ins for the paging and chat services: one HTTP server on a free loopback port that
 * accepts PagerDuty Events API v2 (`POST /pagerduty/v2/enqueue`) and Slack incoming-webhook
 * (`POST /slack/webhook`) payloads the way those services document them, records each with its
 * arrival time, and rejects (400) anything of another shape, so a template or config mistake shows
 * up as a rejection instead of a silently accepted page.
 */

export interface PagerDutyEvent {
  routing_key: string;
  event_action: 'trigger' | 'acknowledge' | 'resolve';
  dedup_key?: string;
  payload?: { summary: string; source: string; severity: 'critical' | 'error' | 'warning' | 'info'; custom_details?: Record<string, unknown> };
  links?: { href: string; text?: string }[];
  client?: string;
  client_url?: string;
}

export interface SlackMessage {
  channel?: string;
  username?: string;
  text?: string;
  attachments?: { title?: string; text?: string; color?: string }[];
}

export interface Received<T> {
  at: number;
  body: T;
}

export interface Receivers {
  url: string;
  pagerdutyUrl: string;
  slackUrl: string;
  pages: Received<PagerDutyEvent>[];
  chat: Received<SlackMessage>[];
  rejected: { path: string; why: string; body: string }[];
  /** Answer valid PagerDuty events with this status (e.g. 500: the paging service is down) instead of 202; undefined restores 202. */
  failPagesWith(status: number | undefined): void;
  close(): Promise<void>;
}

/** PagerDuty Events v2: https://developer.pagerduty.com/docs/events-api-v2/trigger-events/ */
export function pagerDutyProblems(body: unknown): string[] {
  const e = body as Partial<PagerDutyEvent>;
  const problems: string[] = [];
  if (typeof e?.routing_key !== 'string' || e.routing_key.length === 0) problems.push('routing_key missing');
  if (!['trigger', 'acknowledge', 'resolve'].includes(e?.event_action as string)) problems.push('event_action must be trigger|acknowledge|resolve');
  if (e?.event_action === 'trigger') {
    const p = e.payload;
    if (!p || typeof p.summary !== 'string' || !p.summary) problems.push('payload.summary missing');
    else if (p.summary.length > 1024) problems.push('payload.summary longer than 1024');
    if (!p || typeof p.source !== 'string' || !p.source) problems.push('payload.source missing');
    if (!p || !['critical', 'error', 'warning', 'info'].includes(p.severity)) problems.push('payload.severity must be critical|error|warning|info');
  } else if (typeof e?.dedup_key !== 'string') problems.push('dedup_key required to acknowledge/resolve');
  for (const link of e?.links ?? []) if (typeof link.href !== 'string' || !link.href) problems.push('links[].href missing');
  return problems;
}

/** Slack incoming webhooks: a `text` or attachments with text/title. */
export function slackProblems(body: unknown): string[] {
  const m = body as Partial<SlackMessage>;
  if (typeof m?.text === 'string' && m.text) return [];
  if (Array.isArray(m?.attachments) && m.attachments.length > 0 && m.attachments.every((a) => typeof a.title === 'string' || typeof a.text === 'string')) return [];
  return ['neither text nor attachments with title/text'];
}

export async function startReceivers(now: () => number = Date.now): Promise<Receivers> {
  const pages: Received<PagerDutyEvent>[] = [];
  const chat: Received<SlackMessage>[] = [];
  const rejected: Receivers['rejected'] = [];
  let pageFailure: number | undefined;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const reject = (why: string) => {
        rejected.push({ path: req.url ?? '', why, body: raw.slice(0, 500) });
        res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'invalid event', message: why }));
      };
      let body: unknown;
      try {
        body = JSON.parse(raw);
      } catch {
        return reject('not JSON');
      }
      if (req.method === 'POST' && req.url === '/pagerduty/v2/enqueue') {
        const problems = pagerDutyProblems(body);
        if (problems.length) return reject(problems.join('; '));
        const event = body as PagerDutyEvent;
        if (pageFailure !== undefined) return res.writeHead(pageFailure, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'error', message: 'stand-in answering an error on purpose' }));
        pages.push({ at: now(), body: event });
        return res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'success', message: 'Event processed', dedup_key: event.dedup_key ?? 'generated' }));
      }
      if (req.method === 'POST' && req.url === '/slack/webhook') {
        const problems = slackProblems(body);
        if (problems.length) return reject(problems.join('; '));
        chat.push({ at: now(), body: body as SlackMessage });
        return res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      }
      return reject(`no such endpoint ${req.method} ${req.url}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    pagerdutyUrl: `${url}/pagerduty/v2/enqueue`,
    slackUrl: `${url}/slack/webhook`,
    pages,
    chat,
    rejected,
    failPagesWith: (status) => {
      pageFailure = status;
    },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

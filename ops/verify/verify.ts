import { randomUUID } from 'node:crypto';
import { io as connect, type Socket } from 'socket.io-client';
import { metricNames } from '../../core/src/telemetry/metric-names';

/**
 * The post-deployment verification: every documented REST route (including the error contract),
 * the Socket.IO flow (join, send, receive, typing, read, gap repair by afterSeq), /health, /ready and
 * /metrics. It acts as dedicated verification users in conversations it reuses on every run (a direct
 * one and a private group named VERIFY_GROUP, whose only members are verification users), so repeated
 * runs add no conversation anyone else can see. Messages it sends stay in those two conversations.
 */

export const verifyUsers = { a: 'ops-verify-a', b: 'ops-verify-b', outsider: 'ops-verify-outsider' } as const;
export const VERIFY_GROUP = 'ops verify (automated post-deploy check)';
export const MAINTENANCE_ON = 'maintenance mode is on';

export interface VerifyOptions {
  /** The public entry point (front door / ingress). */
  url: string;
  /**
   * Each instance's internal listener (METRICS_PORT), where /metrics lives; the public port and the
   * front door must not serve it. Empty skips the check (the environment's instances are not reachable from here).
   */
  metricsUrls: string[];
  /** A bearer token for a verification user. */
  token(userId: string): Promise<string>;
  print?: (line: string) => void;
  /** Per network wait (HTTP answer, socket event). */
  timeoutMs?: number;
}

export interface CheckResult {
  name: string;
  ok: boolean;
  detail?: string;
  ms: number;
}

export interface VerifyReport {
  url: string;
  ok: boolean;
  checks: CheckResult[];
  /** Documented operations (`POST /api/conversations/{id}/join`) the run exercised. */
  covered: string[];
}

/** The fields of the core's JSON answers that the checks read (conversation, message, page, problem, health). */
interface Body {
  id?: string;
  seq?: number;
  code?: string;
  status?: string;
  version?: string;
  maintenance?: { on?: boolean };
  items?: { id: string; seq: number; name?: string; type?: string }[];
  members?: { userId: string }[];
  paths?: OpenApi['paths'];
  uploadUrl?: string;
}

interface Answer {
  status: number;
  body: Body;
  contentType: string;
}

class CheckFailed extends Error {}

type OpenApi = { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };

export async function runVerify(options: VerifyOptions): Promise<VerifyReport> {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const base = options.url.replace(/\/+$/, '');
  const checks: CheckResult[] = [];
  const covered = new Set<string>();
  const tokens = new Map<string, string>();
  const sockets: Socket[] = [];
  let openapi: OpenApi | undefined;

  const tokenOf = async (user: string) => {
    if (!tokens.has(user)) tokens.set(user, await options.token(user));
    return tokens.get(user)!;
  };
  async function check(name: string, fn: () => Promise<string | void>): Promise<boolean> {
    const started = performance.now();
    try {
      const detail = (await fn()) ?? undefined;
      checks.push({ name, ok: true, ...(detail ? { detail } : {}), ms: Math.round(performance.now() - started) });
      options.print?.(`✓ ${name}${detail ? `: ${detail}` : ''}`);
      return true;
    } catch (error) {
      const detail = (error as Error).message;
      checks.push({ name, ok: false, detail, ms: Math.round(performance.now() - started) });
      options.print?.(`✗ ${name}: ${detail}`);
      return false;
    }
  }
  const fail = (message: string): never => {
    throw new CheckFailed(message);
  };

  /** One request; `template` is the documented path, the answer's status must be documented for it. */
  async function call(user: string | null, method: string, template: string, path: string, body?: unknown): Promise<Answer> {
    const headers: Record<string, string> = { connection: 'close' };
    if (user) headers.authorization = `Bearer ${await tokenOf(user)}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch { /* not JSON: kept as text */ }
    const answer: Answer = { status: res.status, body: (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Body, contentType: res.headers.get('content-type') ?? '' };
    if (template.startsWith('/api/') && openapi) {
      const operation = openapi.paths[template]?.[method.toLowerCase()];
      if (!operation) fail(`${method} ${template} is not in /api/openapi.json`);
      if (!(String(res.status) in operation!.responses)) fail(`${method} ${path} answered ${res.status}, not documented (documented: ${Object.keys(operation!.responses).join(', ')})`);
      covered.add(`${method} ${template}`);
    }
    if (res.status >= 400 && template.startsWith('/api/') && !answer.contentType.startsWith('application/problem+json')) fail(`${method} ${path} answered ${res.status} as ${answer.contentType}, not application/problem+json`);
    return answer;
  }
  const expectStatus = async (user: string | null, method: string, template: string, path: string, want: number, body?: unknown, code?: string): Promise<Answer> => {
    const answer = await call(user, method, template, path, body);
    if (answer.status !== want) fail(`${method} ${path} answered ${answer.status}${answer.body?.code ? ` ${answer.body.code}` : ''}, expected ${want}`);
    if (code && answer.body?.code !== code) fail(`${method} ${path} answered code ${answer.body?.code}, expected ${code}`);
    return answer;
  };

  const { a, b, outsider } = verifyUsers;
  let direct = '';
  let group = '';
  const marker = `verify-${randomUUID().slice(0, 8)}`;
  try {
    const healthy = await check('/health answers ok', async () => {
      const health = await call(null, 'GET', '/health', '/health');
      if (health.status !== 200 || health.body?.status !== 'ok') fail(`GET /health answered ${health.status} ${JSON.stringify(health.body)}`);
      if (health.body.maintenance?.on) fail(MAINTENANCE_ON);
      return `version ${health.body.version}`;
    });
    await check('/ready answers 200', async () => {
      const ready = await call(null, 'GET', '/ready', '/ready');
      if (ready.status !== 200) fail(`GET /ready answered ${ready.status} ${JSON.stringify(ready.body)}`);
    });
    await check('/metrics on every instance, not at the front door', async () => {
      if (!options.metricsUrls.length) return 'skipped: instance metrics URLs unknown for this environment';
      for (const instance of options.metricsUrls) {
        const res = await fetch(`${instance.replace(/\/+$/, '')}/metrics`, { headers: { connection: 'close' }, signal: AbortSignal.timeout(timeoutMs) });
        const text = await res.text();
        if (res.status !== 200 || !text.includes(metricNames.buildInfo) || !text.includes(metricNames.httpRequestDuration)) fail(`${instance}/metrics answered ${res.status} without ${metricNames.buildInfo}`);
      }
      const front = await fetch(`${base}/metrics`, { headers: { connection: 'close' }, signal: AbortSignal.timeout(timeoutMs) });
      await front.arrayBuffer();
      if (front.status === 200) fail(`${base}/metrics is exposed publicly (200)`);
      return `${options.metricsUrls.length} instance(s); front door answers ${front.status}`;
    });
    if (!healthy) return finish();
    const documented = await check('GET /api/openapi.json', async () => {
      const doc = await call(null, 'GET', '/openapi', '/api/openapi.json');
      if (doc.status !== 200 || !doc.body?.paths) fail(`answered ${doc.status}`);
      openapi = { paths: doc.body.paths ?? {} };
      return `${Object.keys(openapi!.paths).length} paths`;
    });
    if (!documented) return finish();

    await check('401 without a token', async () => {
      await expectStatus(null, 'GET', '/api/conversations', '/api/conversations', 401, undefined, 'unauthorized');
    });
    await check('400 on a bad body', async () => {
      await expectStatus(a, 'POST', '/api/conversations', '/api/conversations', 400, { type: 'channel' }, 'validation_failed');
    });
    await check('404 on an unknown conversation', async () => {
      await expectStatus(a, 'GET', '/api/conversations/{id}', '/api/conversations/000000000000000000000000', 404, undefined, 'not_found');
    });
    const ready = await check('verification conversations (reused)', async () => {
      const d = await call(a, 'POST', '/api/conversations', '/api/conversations', { type: 'direct', memberIds: [b] });
      if (d.status !== 200 && d.status !== 201) fail(`POST /api/conversations (direct) answered ${d.status}`);
      direct = d.body.id ?? '';
      const list = await expectStatus(a, 'GET', '/api/conversations', '/api/conversations?limit=100', 200);
      const items = list.body.items ?? [];
      group = items.find((c) => c.type === 'group' && c.name === VERIFY_GROUP)?.id ?? '';
      // Private (the default, said explicitly): nobody outside the verification users can join it by id.
      if (!group) group = (await expectStatus(a, 'POST', '/api/conversations', '/api/conversations', 201, { type: 'group', name: VERIFY_GROUP, visibility: 'private', memberIds: [b] })).body.id ?? '';
      if (!items.some((c) => c.id === direct)) fail(`the direct conversation ${direct} is not in GET /api/conversations`);
      return `direct ${direct} (${d.status === 201 ? 'created' : 'reused'}), group ${group}`;
    });
    if (!ready) return finish();

    await check('GET /api/conversations/{id} for a member', async () => {
      const got = await expectStatus(b, 'GET', '/api/conversations/{id}', `/api/conversations/${direct}`, 200);
      if (got.body.id !== direct) fail(`answered conversation ${got.body.id}`);
    });
    await check('403 for a non-member', async () => {
      await expectStatus(outsider, 'GET', '/api/conversations/{id}', `/api/conversations/${direct}`, 403, undefined, 'forbidden');
      await expectStatus(b, 'POST', '/api/conversations/{id}/archive', `/api/conversations/${group}/archive`, 403, undefined, 'forbidden');
    });
    await check('private group: join 403, owner adds and removes, 409 when already a member, leave', async () => {
      // A run stopped half-way may have left the outsider in the group: leave first (204 or 403).
      const left = await call(outsider, 'POST', '/api/conversations/{id}/leave', `/api/conversations/${group}/leave`);
      if (left.status !== 204 && left.status !== 403) fail(`cleanup leave answered ${left.status}`);
      // The group is private: joining by id is refused, only an owner (a, not b) adds members.
      await expectStatus(outsider, 'POST', '/api/conversations/{id}/join', `/api/conversations/${group}/join`, 403, undefined, 'forbidden');
      await expectStatus(b, 'POST', '/api/conversations/{id}/members', `/api/conversations/${group}/members`, 403, { userIds: [outsider] }, 'forbidden');
      const add = async () => {
        const added = await expectStatus(a, 'POST', '/api/conversations/{id}/members', `/api/conversations/${group}/members`, 200, { userIds: [outsider] });
        if (!added.body.members?.some((m) => m.userId === outsider)) fail(`POST /api/conversations/${group}/members did not list ${outsider} as a member`);
      };
      await add();
      await expectStatus(outsider, 'POST', '/api/conversations/{id}/join', `/api/conversations/${group}/join`, 409, undefined, 'conflict');
      await expectStatus(outsider, 'POST', '/api/conversations/{id}/leave', `/api/conversations/${group}/leave`, 204);
      await add();
      await expectStatus(a, 'DELETE', '/api/conversations/{id}/members/{userId}', `/api/conversations/${group}/members/${outsider}`, 204);
      await expectStatus(a, 'DELETE', '/api/conversations/{id}/members/{userId}', `/api/conversations/${group}/members/${outsider}`, 404, undefined, 'not_found');
      await expectStatus(a, 'POST', '/api/conversations/{id}/leave', `/api/conversations/${direct}/leave`, 409, undefined, 'conflict');
    });
    let httpSeq = 0;
    await check('send over HTTP (201, then 200 for the same clientMsgId), history, search, read', async () => {
      const clientMsgId = `${marker}-http`;
      const sent = await expectStatus(a, 'POST', '/api/conversations/{id}/messages', `/api/conversations/${direct}/messages`, 201, { clientMsgId, text: `${marker} over http` });
      const again = await expectStatus(a, 'POST', '/api/conversations/{id}/messages', `/api/conversations/${direct}/messages`, 200, { clientMsgId, text: `${marker} over http` });
      if (again.body.seq !== sent.body.seq) fail(`the retry stored a second message (seq ${again.body.seq} vs ${sent.body.seq})`);
      httpSeq = sent.body.seq ?? 0;
      const history = await expectStatus(b, 'GET', '/api/conversations/{id}/messages', `/api/conversations/${direct}/messages?afterSeq=${httpSeq - 1}`, 200);
      if (history.body.items?.[0]?.seq !== httpSeq) fail(`history afterSeq=${httpSeq - 1} did not start with seq ${httpSeq}`);
      await expectStatus(b, 'GET', '/api/conversations/{id}/messages', `/api/conversations/${direct}/messages?afterSeq=1&beforeSeq=2`, 400, undefined, 'validation_failed');
      const search = await expectStatus(b, 'GET', '/api/conversations/{id}/search', `/api/conversations/${direct}/search?q=${marker}`, 200);
      if (!search.body.items?.some((m) => m.seq === httpSeq)) fail(`search for ${marker} did not find seq ${httpSeq}`);
      await expectStatus(b, 'POST', '/api/conversations/{id}/read', `/api/conversations/${direct}/read`, 200, { seq: httpSeq });
      return `seq ${httpSeq}`;
    });
    await check('attachments answer as documented', async () => {
      const upload = await call(a, 'POST', '/api/conversations/{id}/attachments', `/api/conversations/${direct}/attachments`, { filename: 'verify.pdf', contentType: 'application/pdf', size: 10 });
      if (upload.status === 503) return 'attachments not configured (503 unavailable)';
      if (upload.status !== 201 || !upload.body?.uploadUrl) fail(`answered ${upload.status}`);
      return 'presigned upload issued (not used; the orphan-uploads job removes it)';
    });
    await check('Socket.IO: join, typing, send/receive, read', async () => {
      const [sa, sb] = [await open(a), await open(b)];
      const joined = (await ack(sa, 'join_conversation', { conversationId: direct })) as { lastSeq: number };
      await ack(sb, 'join_conversation', { conversationId: direct });
      const typing = waitFor(sb, 'user_typing', (e: { userId: string; typing: boolean }) => e.userId === a && e.typing);
      await ack(sa, 'typing_start', { conversationId: direct });
      await typing;
      const text = `${marker} over socket`;
      const received = waitFor(sb, 'message_received', (m: { text: string; seq: number }) => m.text === text);
      const sent = (await ack(sa, 'send_message', { conversationId: direct, clientMsgId: `${marker}-socket`, text })) as { seq: number };
      const got = await received;
      if (got.seq !== sent.seq || sent.seq <= joined.lastSeq) fail(`received seq ${got.seq}, sent ${sent.seq}, joined at ${joined.lastSeq}`);
      const read = waitFor(sa, 'message_read', (e: { userId: string; seq: number }) => e.userId === b && e.seq === sent.seq);
      await ack(sb, 'mark_read', { conversationId: direct, seq: sent.seq });
      await read;
      await ack(sa, 'typing_stop', { conversationId: direct });
      return `seq ${sent.seq}`;
    });
    await check('gap repair by afterSeq after a reconnect', async () => {
      const sb = await open(b);
      const { lastSeq } = (await ack(sb, 'join_conversation', { conversationId: direct })) as { lastSeq: number };
      sb.disconnect();
      const missed: number[] = [];
      for (const n of [1, 2]) missed.push((await expectStatus(a, 'POST', '/api/conversations/{id}/messages', `/api/conversations/${direct}/messages`, 201, { clientMsgId: `${marker}-gap-${n}`, text: `${marker} missed ${n}` })).body.seq ?? -1);
      const again = await open(b);
      const rejoined = (await ack(again, 'join_conversation', { conversationId: direct })) as { lastSeq: number };
      if (rejoined.lastSeq < missed[1]!) fail(`join after reconnect reports lastSeq ${rejoined.lastSeq}, below ${missed[1]}`);
      const page = await expectStatus(b, 'GET', '/api/conversations/{id}/messages', `/api/conversations/${direct}/messages?afterSeq=${lastSeq}`, 200);
      const seqs = (page.body.items ?? []).map((m) => m.seq);
      if (JSON.stringify(seqs) !== JSON.stringify(missed)) fail(`afterSeq=${lastSeq} returned ${JSON.stringify(seqs)}, expected ${JSON.stringify(missed)}`);
      return `repaired ${missed.length} message(s) after seq ${lastSeq}`;
    });
    await check('every documented route exercised', async () => {
      const all = Object.entries(openapi!.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`));
      const missing = all.filter((op) => !covered.has(op));
      if (missing.length) fail(`not exercised: ${missing.join(', ')}`);
      return `${all.length} operations`;
    });
    return finish();
  } finally {
    for (const s of sockets) s.disconnect();
  }

  function finish(): VerifyReport {
    return { url: base, ok: checks.every((c) => c.ok), checks, covered: [...covered].sort() };
  }

  async function open(user: string): Promise<Socket> {
    const socket = connect(base, { auth: { token: await tokenOf(user) }, transports: ['websocket'], reconnection: false, forceNew: true, timeout: timeoutMs });
    sockets.push(socket);
    await within(new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', (error) => reject(new Error(`socket connect as ${user} failed: ${error.message}`)));
    }), `socket connect as ${user}`);
    return socket;
  }
  async function ack(socket: Socket, event: string, payload: unknown): Promise<unknown> {
    const answer = (await within(socket.emitWithAck(event, payload), event)) as { error?: { code: string; detail: string } };
    if (answer?.error) fail(`${event} answered ${answer.error.code}: ${answer.error.detail}`);
    return answer;
  }
  function waitFor<T>(socket: Socket, event: string, match: (e: T) => boolean): Promise<T> {
    return within(new Promise<T>((resolve) => {
      const listener = (e: T) => {
        if (!match(e)) return;
        socket.off(event, listener);
        resolve(e);
      };
      socket.on(event, listener);
    }), `${event} event`);
  }
  function within<T>(promise: Promise<T>, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([promise, new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new CheckFailed(`${what}: nothing within ${timeoutMs} ms`)), timeoutMs);
    })]).finally(() => clearTimeout(timer));
  }
}

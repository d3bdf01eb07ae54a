import { randomUUID } from 'node:crypto';
import { createClient, type ClientEvents, type JoinAck, type SwitchboardClient } from '../../core/client/src';
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
  const clients: SwitchboardClient[] = [];
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
      // A download of a file that is on no message: refused as not found (members only, attached files only).
      const download = await call(a, 'GET', '/api/conversations/{id}/attachments/{attachmentId}', `/api/conversations/${direct}/attachments/${marker}-none`);
      if (upload.status === 503) {
        if (download.status !== 503) fail(`uploads answer 503 but a download answered ${download.status}`);
        return 'attachments not configured (503 unavailable)';
      }
      if (upload.status !== 201 || !upload.body?.uploadUrl) fail(`answered ${upload.status}`);
      if (download.status !== 404) fail(`a download of an attachment on no message answered ${download.status}, expected 404`);
      return 'presigned upload issued (not used; the orphan-uploads job removes it); unknown attachment 404';
    });
    await check('Socket.IO: join, typing, send/receive, read', async () => {
      const [{ client: sa, joined }, { client: sb }] = [await open(a, direct), await open(b, direct)];
      const typing = waitFor(sb, 'typing', (e) => e.userId === a && e.typing);
      sa.typing(direct, true);
      await typing;
      const text = `${marker} over socket`;
      const received = waitFor(sb, 'message', (m) => m.text === text);
      const sent = await within(sa.send(direct, text, { clientMsgId: `${marker}-socket` }), 'send_message').catch(refused('send_message'));
      const got = await received;
      if (got.seq !== sent.seq || sent.seq <= joined.lastSeq) fail(`received seq ${got.seq}, sent ${sent.seq}, joined at ${joined.lastSeq}`);
      const read = waitFor(sa, 'read', (e) => e.userId === b && e.seq === sent.seq);
      await within(sb.markRead(direct, sent.seq), 'mark_read').catch(refused('mark_read'));
      await read;
      sa.typing(direct, false);
      return `seq ${sent.seq}`;
    });
    await check('gap repair by afterSeq after a reconnect', async () => {
      const { client: sb, joined: { lastSeq } } = await open(b, direct);
      sb.close();
      const missed: number[] = [];
      for (const n of [1, 2]) missed.push((await expectStatus(a, 'POST', '/api/conversations/{id}/messages', `/api/conversations/${direct}/messages`, 201, { clientMsgId: `${marker}-gap-${n}`, text: `${marker} missed ${n}` })).body.seq ?? -1);
      // The client library's catch-up: subscribe first, then fetch afterSeq and deliver in order.
      const again = await open(b, direct, lastSeq);
      if (again.joined.lastSeq < missed[1]!) fail(`join after reconnect reports lastSeq ${again.joined.lastSeq}, below ${missed[1]}`);
      const delivered: number[] = [];
      await waitFor(again.client, 'message', (m) => delivered.push(m.seq) >= missed.length);
      if (JSON.stringify(delivered) !== JSON.stringify(missed)) fail(`catch-up after seq ${lastSeq} delivered ${JSON.stringify(delivered)}, expected ${JSON.stringify(missed)}`);
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
    for (const c of clients) c.close();
  }

  function finish(): VerifyReport {
    return { url: base, ok: checks.every((c) => c.ok), checks, covered: [...covered].sort() };
  }

  /** A client subscribed to one conversation: resolves once it is connected and joined. */
  async function open(user: string, conversationId: string, afterSeq?: number): Promise<{ client: SwitchboardClient; joined: JoinAck }> {
    const client = createClient({ url: base, getToken: () => tokenOf(user), ackTimeoutMs: timeoutMs, backoff: { baseMs: 200, maxMs: 1_000 } });
    clients.push(client);
    let last = 'no answer';
    client.on('stateChange', (_state, _previous, info) => void (info.reason && (last = info.reason)));
    const joined = new Promise<JoinAck>((resolve, reject) => {
      client.on('joined', (ack) => ack.conversationId === conversationId && resolve(ack));
      client.on('error', (error) => reject(new CheckFailed(`join_conversation as ${user} failed: ${error.message}`)));
      client.on('sessionEnded', (reason) => reject(new CheckFailed(`socket connect as ${user} failed: ${reason}`)));
    });
    client.subscribe(conversationId, afterSeq === undefined ? {} : { afterSeq });
    client.connect();
    try {
      return { client, joined: await within(joined, `socket connect and join as ${user}`) };
    } catch (error) {
      throw error instanceof CheckFailed ? new CheckFailed(`${error.message} (last: ${last})`) : error;
    }
  }
  function refused(event: string) {
    return (error: { problem?: { code: string; detail: string }; message: string }): never => fail(`${event} answered ${error.problem ? `${error.problem.code}: ${error.problem.detail}` : error.message}`);
  }
  function waitFor<K extends 'message' | 'typing' | 'read'>(client: SwitchboardClient, event: K, match: (e: Parameters<ClientEvents[K]>[0]) => boolean): Promise<Parameters<ClientEvents[K]>[0]> {
    return within(new Promise((resolve) => {
      const off = client.on(event, ((e: Parameters<ClientEvents[K]>[0]) => {
        if (!match(e)) return;
        off();
        resolve(e);
      }) as ClientEvents[K]);
    }), `${event} event`);
  }
  function within<T>(promise: Promise<T>, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([promise, new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new CheckFailed(`${what}: nothing within ${timeoutMs} ms`)), timeoutMs);
    })]).finally(() => clearTimeout(timer));
  }
}

import { startMinio, type RunningMinio } from '../../ops/services/minio';
import { createS3Client, ensureBucket } from '../src/media/s3';
import { nextEvent, s3Env, startTestCore, type TestCore } from './harness';

/** Attachments end to end through the real HTTP API, against MinIO on loopback. */
let minio: RunningMinio;
let t: TestCore;
let convId: string;
const png = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');

beforeAll(async () => {
  minio = await startMinio();
  const s3 = createS3Client({ bucket: 'media', endpoint: minio.endpoint, region: minio.region, accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey });
  await ensureBucket(s3, 'media');
  s3.destroy();
  // A 2-second download TTL: the removal test waits one out.
  t = await startTestCore({ ...s3Env(minio, 'media'), ATTACHMENT_MAX_BYTES: '1000', ATTACHMENT_DOWNLOAD_URL_TTL_S: '2' });
  convId = (await t.api('uma', 'POST', '/api/conversations', { type: 'group', name: 'files', memberIds: ['vic'] })).body.id;
}, 120_000);

afterAll(async () => {
  await t?.stop();
  await minio?.stop();
});

describe('POST /api/conversations/:id/attachments', () => {
  it('presigns an upload that a plain HTTP PUT completes, and a message can then carry it', async () => {
    const ticket = await t.api('uma', 'POST', `/api/conversations/${convId}/attachments`, { filename: 'dot.png', contentType: 'image/png', size: png.length });
    expect(ticket.status).toBe(201);
    expect(ticket.body.key).toMatch(new RegExp(`^conversations/${convId}/[0-9a-f]{32}/dot\\.png$`));
    expect(ticket.body.downloadPath).toBe(`/api/conversations/${convId}/attachments/${ticket.body.attachmentId}`);
    const put = await fetch(ticket.body.uploadUrl, { method: 'PUT', headers: ticket.body.headers, body: png });
    expect(put.status).toBe(200);

    const vic = await t.socket('vic');
    await (vic as any).emitWithAck('join_conversation', { conversationId: convId });
    const received = nextEvent<any>(vic, 'message_received');
    const sent = await t.api('uma', 'POST', `/api/conversations/${convId}/messages`, { clientMsgId: 'with-file', text: '', attachmentIds: [ticket.body.attachmentId] });
    expect(sent.status).toBe(201);
    expect(sent.body.attachments).toEqual([{ id: ticket.body.attachmentId, filename: 'dot.png', contentType: 'image/png', size: png.length, downloadPath: ticket.body.downloadPath }]);
    expect((await received).attachments).toHaveLength(1);
    const history = await t.api('vic', 'GET', `/api/conversations/${convId}/messages?limit=1`);
    expect(history.body.items[0].attachments[0].id).toBe(ticket.body.attachmentId);

    // Reading: a member asks for a short-lived signed URL; anyone else is refused.
    const read = await t.api('vic', 'GET', `/api/conversations/${convId}/attachments/${ticket.body.attachmentId}`);
    expect(read.status).toBe(200);
    expect(read.headers.get('cache-control')).toBe('private, no-store');
    expect(Buffer.from(await (await fetch(read.body.url)).arrayBuffer()).equals(png)).toBe(true);
    expect((await t.api('mallory', 'GET', `/api/conversations/${convId}/attachments/${ticket.body.attachmentId}`)).status).toBe(403);
  });

  it('refuses a message whose attachment was never uploaded (400), and stores nothing', async () => {
    const ticket = await t.api('uma', 'POST', `/api/conversations/${convId}/attachments`, { filename: 'ghost.png', contentType: 'image/png', size: 10 });
    const sent = await t.api('uma', 'POST', `/api/conversations/${convId}/messages`, { clientMsgId: 'ghost', text: 'see file', attachmentIds: [ticket.body.attachmentId] });
    expect(sent.status).toBe(400);
    const history = await t.api('uma', 'GET', `/api/conversations/${convId}/messages?limit=100`);
    expect(history.body.items.some((m: { clientMsgId: string }) => m.clientMsgId === 'ghost')).toBe(false);
  });

  it('refuses oversize (413), unaccepted types (415), non-members (403) and unknown conversations (404)', async () => {
    expect((await t.api('uma', 'POST', `/api/conversations/${convId}/attachments`, { filename: 'big.png', contentType: 'image/png', size: 1001 })).status).toBe(413);
    const exe = await t.api('uma', 'POST', `/api/conversations/${convId}/attachments`, { filename: 'x.exe', contentType: 'application/x-msdownload', size: 10 });
    expect(exe.status).toBe(415);
    expect(exe.body.code).toBe('unsupported_media_type');
    expect((await t.api('wes', 'POST', `/api/conversations/${convId}/attachments`, { filename: 'a.png', contentType: 'image/png', size: 10 })).status).toBe(403);
    expect((await t.api('uma', 'POST', '/api/conversations/0123456789abcdef01234567/attachments', { filename: 'a.png', contentType: 'image/png', size: 10 })).status).toBe(404);
  });

  it('refuses uploads into an archived conversation (409)', async () => {
    const id = (await t.api('uma', 'POST', '/api/conversations', { type: 'group', name: 'closed' })).body.id;
    await t.api('uma', 'POST', `/api/conversations/${id}/archive`);
    const res = await t.api('uma', 'POST', `/api/conversations/${id}/attachments`, { filename: 'a.png', contentType: 'image/png', size: 10 });
    expect(res.status).toBe(409);
    expect(res.body.reason).toBe('archived');
  });
});

/** Every string in a JSON value that a client could try as a link: absolute URLs and paths. */
function linksIn(value: unknown): string[] {
  if (typeof value === 'string') return /^(https?:\/\/|\/)/.test(value) ? [value] : [];
  if (Array.isArray(value)) return value.flatMap(linksIn);
  if (value && typeof value === 'object') return Object.values(value).flatMap(linksIn);
  return [];
}

describe('a removed member cannot read the file (issue 21)', () => {
  it('after removal: the route answers 403, nothing in the message they saw reads the object, and an earlier presigned URL dies with its TTL', async () => {
    const id = (await t.api('uma', 'POST', '/api/conversations', { type: 'group', name: 'private files', memberIds: ['xia'] })).body.id;
    const ticket = (await t.api('uma', 'POST', `/api/conversations/${id}/attachments`, { filename: 'secret.png', contentType: 'image/png', size: png.length })).body;
    expect((await fetch(ticket.uploadUrl, { method: 'PUT', headers: ticket.headers, body: png })).status).toBe(200);
    expect((await t.api('uma', 'POST', `/api/conversations/${id}/messages`, { clientMsgId: 'secret', text: 'for members', attachmentIds: [ticket.attachmentId] })).status).toBe(201);

    // What xia saw as a member: the history page (the same view a socket broadcast carries).
    const seen = (await t.api('xia', 'GET', `/api/conversations/${id}/messages`)).body.items.find((m: { clientMsgId: string }) => m.clientMsgId === 'secret');
    expect(seen.attachments).toHaveLength(1);
    const earlier = await t.api('xia', 'GET', seen.attachments[0].downloadPath);
    expect(earlier.status).toBe(200);
    expect(Buffer.from(await (await fetch(earlier.body.url)).arrayBuffer()).equals(png)).toBe(true);

    expect((await t.api('uma', 'DELETE', `/api/conversations/${id}/members/xia`)).status).toBe(204);
    const refused = await t.api('xia', 'GET', seen.attachments[0].downloadPath);
    expect({ status: refused.status, code: refused.body.code }).toEqual({ status: 403, code: 'forbidden' });

    // The view holds no object URL; every link-like string in it, tried against the bucket's
    // endpoint (MinIO here, the S3 origin in production), reads nothing.
    const links = linksIn(seen);
    expect(links).toEqual([seen.attachments[0].downloadPath]);
    const tries = [...links.map((l) => new URL(l, minio.endpoint).href), `${minio.endpoint}/media/${ticket.key}`];
    for (const url of tries) {
      const res = await fetch(url);
      expect({ url, ok: res.ok }).toEqual({ url, ok: false });
      expect(Buffer.from(await res.arrayBuffer()).includes(png)).toBe(false);
    }

    // The presigned URL xia got while a member lives ATTACHMENT_DOWNLOAD_URL_TTL_S (2 s here), no longer.
    expect(new URL(earlier.body.url).searchParams.get('X-Amz-Expires')).toBe('2');
    await new Promise((r) => setTimeout(r, Math.max(0, new Date(earlier.body.expiresAt).getTime() - Date.now()) + 1_200));
    const expired = await fetch(earlier.body.url);
    expect(expired.status).toBe(403);
    expect(await expired.text()).toMatch(/expired/i);
  });
});

describe('broadcast order with attachments', () => {
  it('a message with an attachment is broadcast in seq order with the plain messages sent beside it', async () => {
    const ticket = (await t.api('uma', 'POST', `/api/conversations/${convId}/attachments`, { filename: 'order.png', contentType: 'image/png', size: png.length })).body;
    expect((await fetch(ticket.uploadUrl, { method: 'PUT', headers: ticket.headers, body: png })).status).toBe(200);
    const vic = await t.socket('vic');
    await (vic as any).emitWithAck('join_conversation', { conversationId: convId });
    const seen: { seq: number; clientMsgId: string }[] = [];
    vic.on('message_received', (m: { seq: number; clientMsgId: string }) => seen.push(m));
    const uma = await t.socket('uma');
    const send = (payload: object) => (uma as any).timeout(10_000).emitWithAck('send_message', { conversationId: convId, ...payload });
    const acks = await Promise.all([
      send({ clientMsgId: 'ord-file', text: 'file first', attachmentIds: [ticket.attachmentId] }),
      send({ clientMsgId: 'ord-2', text: 'then me' }),
      send({ clientMsgId: 'ord-3', text: 'and me' }),
    ]);
    expect(acks.map((a: { error?: unknown }) => a.error)).toEqual([undefined, undefined, undefined]);
    for (let i = 0; i < 100 && seen.length < 3; i++) await new Promise((r) => setTimeout(r, 20));
    expect(seen).toHaveLength(3);
    const seqs = seen.map((m) => m.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
  });
});

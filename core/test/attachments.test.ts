import { randomBytes } from 'node:crypto';
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ObjectId } from 'mongodb';
import { Counter, Registry } from 'prom-client';
import { startMinio, type RunningMinio } from '../../ops/services/minio';
import { testNow } from '../../ops/services/test-clock';
import { AppError } from '../src/errors';
import { createJobMetrics } from '../src/jobs/job-metrics';
import { createJobs, defaultJobsSettings } from '../src/jobs/jobs-module';
import { attachmentCollection, ensureAttachmentIndexes } from '../src/media/attachment-store';
import { createAttachmentService, sanitizeFilename, type AttachmentOptions, type UploadTicket } from '../src/media/attachment-service';
import { createS3Client, ensureBucket, s3ObjectBaseUrl, type S3Options } from '../src/media/s3';
import { messageView } from '../src/chat/views';
import { openStore, type Store } from '../src/store/mongo-store';

let minio: RunningMinio;
let store: Store;
let s3: S3Client;
let s3Options: S3Options;
const convId = new ObjectId();
const otherConvId = new ObjectId();

beforeAll(async () => {
  const uri = process.env.TEST_MONGODB_URI;
  if (!uri) throw new Error('TEST_MONGODB_URI is not set: run through jest (global setup starts MongoDB)');
  [minio, store] = await Promise.all([startMinio(), openStore(uri, `t_${randomBytes(6).toString('hex')}`, { poolSize: 5 })]);
  s3Options = { bucket: 'switchboard-media', region: minio.region, endpoint: minio.endpoint, accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey, forcePathStyle: true };
  s3 = createS3Client(s3Options);
  await ensureBucket(s3, s3Options.bucket);
  await ensureAttachmentIndexes(store.db);
  const now = new Date();
  for (const id of [convId, otherConvId]) {
    await store.conversations.insertOne({ _id: id, type: 'group', name: 'media', createdBy: 'alice', createdAt: now, lastSeq: 0, lastMessageAt: null, archivedAt: null });
  }
  await store.memberships.insertMany([
    { _id: `${convId.toHexString()}:alice`, conversationId: convId, userId: 'alice', role: 'owner', joinedAt: now, lastReadSeq: 0 },
    { _id: `${convId.toHexString()}:bob`, conversationId: convId, userId: 'bob', role: 'member', joinedAt: now, lastReadSeq: 0 },
    { _id: `${otherConvId.toHexString()}:alice`, conversationId: otherConvId, userId: 'alice', role: 'owner', joinedAt: now, lastReadSeq: 0 },
  ]);
}, 120_000);

afterAll(async () => {
  s3?.destroy();
  await store?.db.dropDatabase();
  await store?.close();
  await minio?.stop();
});

const baseOptions = (): AttachmentOptions => ({
  bucket: s3Options.bucket, uploadUrlExpiresS: 300,
  maxBytes: 100 * 1024 * 1024, allowedTypes: ['image/*', 'application/pdf', 'video/mp4'], maxPerMessage: 10,
});
// Every upload record is stamped by the test clock, the one the cleanup job judges them by.
const service = (over: Partial<AttachmentOptions> = {}, now: () => Date = testNow) => createAttachmentService({ store, s3, options: { ...baseOptions(), ...over }, now });

const put = (ticket: UploadTicket, body: Buffer, headers: Record<string, string> = ticket.headers) =>
  fetch(ticket.uploadUrl, { method: 'PUT', body, headers });

const exists = async (key: string) => {
  try {
    await s3.send(new HeadObjectCommand({ Bucket: s3Options.bucket, Key: key }));
    return true;
  } catch {
    return false;
  }
};

async function expectAppError(promise: Promise<unknown>, code: string, status: number, message?: RegExp) {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(AppError);
  expect((error as AppError).code).toBe(code);
  expect((error as AppError).status).toBe(status);
  if (message) expect((error as AppError).message).toMatch(message);
}

const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47]), randomBytes(1020)]);

/** Creates an upload for a PNG in conversation c and PUTs it through its presigned URL (as a client would). */
async function uploadPng(svc: ReturnType<typeof service>, c: string, name: string): Promise<UploadTicket> {
  const t = await svc.createUpload('alice', c, { filename: name, contentType: 'image/png', size: png.length });
  expect((await put(t, png)).status).toBe(200);
  return t;
}

describe('presigned uploads against MinIO', () => {
  it('gives a member a presigned PUT that a plain HTTP PUT can use; the key is unguessable and scoped', async () => {
    const registry = new Registry();
    const attachments = new Counter({ name: 'chat_attachments_total', help: 'x', labelNames: ['outcome'], registers: [registry] });
    const svc = createAttachmentService({ store, s3, options: baseOptions(), metrics: { attachments }, now: testNow });
    const ticket = await svc.createUpload('bob', convId.toHexString(), { filename: 'holiday photo (1).png', contentType: 'image/png', size: png.length });
    expect(ticket.method).toBe('PUT');
    expect(ticket.key).toMatch(new RegExp(`^conversations/${convId.toHexString()}/[0-9a-f]{32}/holiday_photo_1_.png$`));
    expect(ticket.downloadPath).toBe(`/api/conversations/${convId.toHexString()}/attachments/${ticket.attachmentId}`);
    expect(ticket.attachmentId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(new Date(ticket.expiresAt).getTime() - testNow().getTime()).toBeGreaterThan(290_000);
    const url = new URL(ticket.uploadUrl);
    expect(url.searchParams.get('X-Amz-Expires')).toBe('300');
    expect(url.searchParams.get('X-Amz-SignedHeaders')!.split(';').sort()).toEqual(['content-length', 'content-type', 'host', 'if-none-match']);

    const res = await put(ticket, png);
    expect(res.status).toBe(200);
    const stored = await s3.send(new GetObjectCommand({ Bucket: s3Options.bucket, Key: ticket.key }));
    expect(stored.ContentType).toBe('image/png');
    expect(Buffer.from(await stored.Body!.transformToByteArray()).equals(png)).toBe(true);

    const again = await svc.createUpload('bob', convId.toHexString(), { filename: 'holiday photo (1).png', contentType: 'image/png', size: png.length });
    expect(again.key).not.toBe(ticket.key);
    expect((await registry.getSingleMetric('chat_attachments_total')!.get()).values.find((v) => v.labels.outcome === 'presigned')?.value).toBe(2);
  });

  it('the ticket carries no readable object URL: only the presigned PUT and the membership-checked download route', async () => {
    const ticket = await service().createUpload('alice', convId.toHexString(), { filename: 'a.pdf', contentType: 'application/pdf', size: 10 });
    const urls = Object.entries(ticket).filter(([, v]) => typeof v === 'string' && /^https?:/.test(v)).map(([k]) => k);
    expect(urls).toEqual(['uploadUrl']);
  });

  it('a message view never carries a stored object URL (messages stored before issue 21 had one)', () => {
    const id = new ObjectId();
    const view = messageView({
      _id: id, conversationId: convId, seq: 1, senderId: 'alice', clientMsgId: 'legacy', text: '', createdAt: testNow(),
      attachments: [{ id: 'A'.repeat(22), filename: 'old.png', contentType: 'image/png', size: 3, url: 'https://media.chat.example.com/conversations/x/old.png' }],
    });
    expect(view.attachments).toEqual([{ id: 'A'.repeat(22), filename: 'old.png', contentType: 'image/png', size: 3, downloadPath: `/api/conversations/${convId.toHexString()}/attachments/${'A'.repeat(22)}` }]);
    expect(JSON.stringify(view)).not.toMatch(/https?:/);
  });

  it('MinIO answers CORS only for loopback page origins (the pinned default is any origin): a browser on the app may PUT, another site may not', async () => {
    const ticket = await service().createUpload('alice', convId.toHexString(), { filename: 'x.png', contentType: 'image/png', size: png.length });
    const preflight = (origin: string) => fetch(ticket.uploadUrl, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'PUT', 'access-control-request-headers': 'content-type,if-none-match' } });
    const app = await preflight('http://127.0.0.1:3000');
    expect(app.headers.get('access-control-allow-origin')).toBe('http://127.0.0.1:3000');
    expect(app.headers.get('access-control-allow-headers')).toMatch(/if-none-match/i);
    expect((await preflight('https://evil.example')).headers.get('access-control-allow-origin')).toBeNull();
  });

  it('refuses a PUT with a different content type or length than was signed', async () => {
    const ticket = await service().createUpload('alice', convId.toHexString(), { filename: 'x.png', contentType: 'image/png', size: png.length });
    const wrongType = await put(ticket, png, { 'content-type': 'text/html', 'if-none-match': '*' });
    expect(wrongType.status).toBe(403);
    expect(await wrongType.text()).toMatch(/SignatureDoesNotMatch/);
    const bigger = await put(ticket, Buffer.concat([png, png]), { 'content-type': 'image/png', 'if-none-match': '*' });
    expect(bigger.status).toBe(403);
    expect(await exists(ticket.key)).toBe(false);
  });

  it('refuses an expired URL', async () => {
    const ticket = await service({ uploadUrlExpiresS: 1 }).createUpload('alice', convId.toHexString(), { filename: 'late.png', contentType: 'image/png', size: png.length });
    await new Promise((r) => setTimeout(r, 2_200));
    const res = await put(ticket, png);
    expect(res.status).toBe(403);
    expect(await res.text()).toMatch(/expired/i);
    expect(await exists(ticket.key)).toBe(false);
  });

  it('refuses non-members (403), unknown or malformed conversations (404) and records nothing', async () => {
    const before = await attachmentCollection(store.db).countDocuments({});
    const body = { filename: 'a.png', contentType: 'image/png', size: 10 };
    await expectAppError(service().createUpload('mallory', convId.toHexString(), body), 'forbidden', 403);
    await expectAppError(service().createUpload('alice', new ObjectId().toHexString(), body), 'not_found', 404);
    await expectAppError(service().createUpload('alice', 'not-an-id', body), 'not_found', 404);
    expect(await attachmentCollection(store.db).countDocuments({})).toBe(before);
  });

  it('applies size and type limits (413/415) and validates the body (400)', async () => {
    const svc = service();
    const c = convId.toHexString();
    await expectAppError(svc.createUpload('alice', c, { filename: 'big.mp4', contentType: 'video/mp4', size: 100 * 1024 * 1024 + 1 }), 'payload_too_large', 413, /largest attachment is 104857600 bytes/);
    await expectAppError(svc.createUpload('alice', c, { filename: 'page.html', contentType: 'text/html', size: 10 }), 'unsupported_media_type', 415, /allowed: image\/\*, application\/pdf, video\/mp4/);
    await expectAppError(svc.createUpload('alice', c, { filename: 'x.webm', contentType: 'video/webm', size: 10 }), 'unsupported_media_type', 415);
    await expect(svc.createUpload('alice', c, { filename: 'x.webp', contentType: 'IMAGE/WEBP', size: 10 })).resolves.toMatchObject({ headers: { 'content-type': 'image/webp' } });
    await expectAppError(svc.createUpload('alice', c, { filename: '', contentType: 'image/png', size: 0 }), 'validation_failed', 400, /filename is required; size must be at least 1 byte/);
    await expectAppError(svc.createUpload('alice', c, { filename: 'a', contentType: 'image/png', size: 1, extra: { $gt: '' } }), 'validation_failed', 400);
    await expectAppError(svc.createUpload('alice', c, { filename: 'a', contentType: 'image/png; x=1', size: 1 }), 'validation_failed', 400);
  });

  it('sanitises filenames', () => {
    expect(sanitizeFilename('../../etc/passwd')).toBe('passwd');
    expect(sanitizeFilename('C:\\Users\\me\\résumé final.pdf')).toBe('resume_final.pdf');
    expect(sanitizeFilename('.htaccess')).toBe('htaccess');
    expect(sanitizeFilename('???')).toBe('file');
    expect(sanitizeFilename(`${'a'.repeat(300)}.png`)).toHaveLength(100);
    expect(sanitizeFilename(`${'a'.repeat(300)}.png`).endsWith('.png')).toBe(true);
  });
});

describe('attachments on messages', () => {
  it('resolves uploaded attachments (HEAD, stored size/type), refuses missing or foreign ones, marks them attached', async () => {
    const svc = service();
    const c = convId.toHexString();
    const ticket = await svc.createUpload('alice', c, { filename: 'doc.pdf', contentType: 'application/pdf', size: 2048 });
    await expectAppError(svc.resolveAttachments('alice', c, [ticket.attachmentId]), 'validation_failed', 400, /has not been uploaded yet/);
    expect((await put(ticket, randomBytes(2048))).status).toBe(200);

    const refs = await svc.resolveAttachments('alice', c, [ticket.attachmentId, ticket.attachmentId]);
    expect(refs).toEqual([{ id: ticket.attachmentId, filename: 'doc.pdf', contentType: 'application/pdf', size: 2048 }]);
    expect(await svc.resolveAttachments('alice', c, [])).toEqual([]);
    expect(await svc.resolveAttachments('alice', c, undefined)).toEqual([]);
    // Someone else's upload, another conversation, an unknown id, a malformed id.
    await expectAppError(svc.resolveAttachments('bob', c, [ticket.attachmentId]), 'validation_failed', 400, /does not exist for this conversation/);
    await expectAppError(svc.resolveAttachments('alice', otherConvId.toHexString(), [ticket.attachmentId]), 'validation_failed', 400);
    await expectAppError(svc.resolveAttachments('alice', c, [randomBytes(16).toString('base64url')]), 'validation_failed', 400);
    await expectAppError(svc.resolveAttachments('alice', c, [{ $ne: null }]), 'validation_failed', 400);
    await expectAppError(service({ maxPerMessage: 1 }).resolveAttachments('alice', c, [ticket.attachmentId, randomBytes(16).toString('base64url')]), 'validation_failed', 400, /at most 1/);

    await svc.markAttached([ticket.attachmentId], '65f000000000000000000009');
    const doc = await attachmentCollection(store.db).findOne({ _id: ticket.attachmentId });
    expect(doc).toMatchObject({ status: 'attached', messageId: '65f000000000000000000009', size: 2048, contentType: 'application/pdf' });
    expect(doc!.uploadedAt).toBeInstanceOf(Date);
    // A retried send resolves the same attachment again.
    await expect(svc.resolveAttachments('alice', c, [ticket.attachmentId])).resolves.toHaveLength(1);
  });
});

describe('attachment hardening (issue 21)', () => {
  it('refuses SVG and other active content even when image/* is allowed (415)', async () => {
    const svc = service();
    const c = convId.toHexString();
    await expectAppError(svc.createUpload('alice', c, { filename: 'logo.svg', contentType: 'image/svg+xml', size: 10 }), 'unsupported_media_type', 415);
    await expectAppError(service({ allowedTypes: ['*/*', 'text/*'] }).createUpload('alice', c, { filename: 'x.html', contentType: 'text/html', size: 10 }), 'unsupported_media_type', 415);
  });

  it('an upload URL creates the object once: it cannot replace the file after the message is sent (MinIO answers 412)', async () => {
    const svc = service();
    const c = convId.toHexString();
    const ticket = await uploadPng(svc, c, 'once.png');
    const [ref] = await svc.resolveAttachments('alice', c, [ticket.attachmentId]);
    await svc.markAttached([ref!.id], '65f0000000000000000000ff');
    const swapped = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47]), randomBytes(png.length - 4)]);
    const again = await put(ticket, swapped);
    expect(again.status).toBe(412);
    // Dropping the signed If-None-Match is refused too (MinIO: 400 for a missing signed header).
    const { 'if-none-match': _dropped, ...withoutCondition } = ticket.headers;
    const unconditional = await put(ticket, swapped, withoutCondition);
    expect(unconditional.status).toBeGreaterThanOrEqual(400);
    expect(unconditional.status).toBeLessThan(500);
    const stored = await s3.send(new GetObjectCommand({ Bucket: s3Options.bucket, Key: ticket.key }));
    expect(Buffer.from(await stored.Body!.transformToByteArray()).equals(png)).toBe(true);
  });

  it('reads go through a short-lived presigned GET issued only to members, for attached files only', async () => {
    const svc = service({ downloadUrlExpiresS: 30 });
    const c = convId.toHexString();
    const ticket = await uploadPng(svc, c, 'read.png');
    await expectAppError(svc.downloadUrl('bob', c, ticket.attachmentId), 'not_found', 404); // not on a message yet
    await svc.resolveAttachments('alice', c, [ticket.attachmentId]);
    await svc.markAttached([ticket.attachmentId], '65f0000000000000000000fd');
    const issued = await svc.downloadUrl('bob', c, ticket.attachmentId);
    expect(new URL(issued.url).searchParams.get('X-Amz-Expires')).toBe('30');
    const got = await fetch(issued.url);
    expect(got.status).toBe(200);
    expect(Buffer.from(await got.arrayBuffer()).equals(png)).toBe(true);
    expect(got.headers.get('content-disposition')).toMatch(/^inline; filename="read.png"/);
    await expectAppError(svc.downloadUrl('zed', c, ticket.attachmentId), 'forbidden', 403);
    await expectAppError(svc.downloadUrl('bob', c, 'not-an-id'), 'not_found', 404);
    // Removed: no new URL from then on.
    const membership = await store.memberships.findOne({ _id: `${c}:bob` });
    await store.memberships.deleteOne({ _id: `${c}:bob` });
    try {
      await expectAppError(svc.downloadUrl('bob', c, ticket.attachmentId), 'forbidden', 403);
    } finally {
      await store.memberships.insertOne(membership!);
    }
    // The object itself is not readable without a signature (the bucket has no public read).
    expect((await fetch(`${s3ObjectBaseUrl(s3Options)}/${ticket.key}`)).status).toBe(403);
  });

  it('caps the uploads one user may have pending (409 pending_uploads_limit); sending one frees a slot', async () => {
    const svc = service({ maxPendingPerUser: 2 });
    const c = convId.toHexString();
    await store.db.collection('attachments').deleteMany({ uploaderId: 'bob', status: 'pending' });
    const first = await uploadPngAs(svc, 'bob', c);
    await svc.createUpload('bob', c, { filename: 'b.png', contentType: 'image/png', size: png.length });
    const refused = await svc.createUpload('bob', c, { filename: 'c.png', contentType: 'image/png', size: png.length }).then(() => undefined, (e: unknown) => e as AppError);
    expect(refused).toBeInstanceOf(AppError);
    expect({ status: refused!.status, reason: refused!.extra.reason }).toEqual({ status: 409, reason: 'pending_uploads_limit' });
    await svc.resolveAttachments('bob', c, [first.attachmentId]);
    await svc.markAttached([first.attachmentId], '65f0000000000000000000fe');
    expect((await svc.createUpload('bob', c, { filename: 'c.png', contentType: 'image/png', size: png.length })).attachmentId).toEqual(expect.any(String));
  });
});

async function uploadPngAs(svc: ReturnType<typeof service>, userId: string, c: string): Promise<UploadTicket> {
  const t = await svc.createUpload(userId, c, { filename: 'a.png', contentType: 'image/png', size: png.length });
  expect((await put(t, png)).status).toBe(200);
  return t;
}

describe('orphan-upload cleanup job', () => {
  it('deletes uploads no message referenced in time (object and record); keeps attached and recent ones; dry run only lists', async () => {
    const svc = service();
    const c = convId.toHexString();
    const upload = (name: string) => uploadPng(svc, c, name);
    const orphan = await upload('orphan.png');
    const neverUploaded = await svc.createUpload('alice', c, { filename: 'never.png', contentType: 'image/png', size: 5 });
    const used = await upload('used.png');
    await svc.resolveAttachments('alice', c, [used.attachmentId]);
    await svc.markAttached([used.attachmentId], '65f00000000000000000000a');
    // The job sees the world 25 hours later; one more upload is fresh at that time.
    const later = () => new Date(testNow().getTime() + 25 * 3_600_000);
    const fresh = await createAttachmentService({ store, s3, options: baseOptions(), now: later }).createUpload('alice', c, { filename: 'fresh.png', contentType: 'image/png', size: 5 });

    const registry = new Registry();
    const jobs = await createJobs({
      db: store.db, instanceId: 'i1', metrics: createJobMetrics(registry), now: later,
      attachments: createAttachmentService({ store, s3, options: baseOptions(), now: later }),
      settings: { ...defaultJobsSettings, orphanUploadHours: 24 },
    });
    expect((await jobs.listJobs()).map((j) => [j.name, j.schedule])).toContainEqual(['orphan-uploads', '0 3 * * *']);

    const dry = await jobs.runJob('orphan-uploads', { dryRun: true });
    const orphanKeys = [orphan.key, neverUploaded.key];
    expect(dry.status).toBe('succeeded');
    // Earlier tests in this file left orphans too; ours must be among them and nothing is removed.
    expect(dry.details.wouldDelete).toEqual(expect.arrayContaining(orphanKeys));
    expect(dry.details.wouldDelete).not.toContain(used.key);
    expect(dry.details.wouldDelete).not.toContain(fresh.key);
    expect(await exists(orphan.key)).toBe(true);

    const run = await jobs.runJob('orphan-uploads');
    expect(run).toMatchObject({ status: 'succeeded', errors: [], itemsProcessed: dry.itemsProcessed });
    expect(await exists(orphan.key)).toBe(false);
    expect(await exists(used.key)).toBe(true);
    const left = await attachmentCollection(store.db).find({}).toArray();
    const leftIds = left.map((d) => d._id);
    expect(leftIds).toEqual(expect.arrayContaining([used.attachmentId, fresh.attachmentId]));
    expect(leftIds).not.toContain(orphan.attachmentId);
    expect(leftIds).not.toContain(neverUploaded.attachmentId);
    // What is left is attached to a message, or younger than 24 hours at the job's time.
    for (const d of left) expect(d.status === 'attached' || d._id === fresh.attachmentId).toBe(true);
    // The removed upload can no longer go on a message.
    await expectAppError(svc.resolveAttachments('alice', c, [orphan.attachmentId]), 'validation_failed', 400);
    const items = (await registry.getSingleMetric('chat_job_items_processed_total')!.get()).values[0]?.value;
    expect(items).toBe(run.itemsProcessed);
  });
});

describe('retention job (delete mode)', () => {
  it('deletes the attachments (object and record) of the messages it deletes, and only those', async () => {
    const svc = service();
    const c = convId.toHexString();
    const upload = (name: string) => uploadPng(svc, c, name);
    const [oldFile, keptFile] = [await upload('old.png'), await upload('kept.png')];
    const refs = await svc.resolveAttachments('alice', c, [oldFile.attachmentId, keptFile.attachmentId]);
    const old = new Date(Date.now() - 40 * 86_400_000);
    const [oldMsg, keptMsg] = [new ObjectId(), new ObjectId()];
    await store.messages.insertMany([
      { _id: oldMsg, conversationId: convId, seq: 101, senderId: 'alice', clientMsgId: 'ret-old', text: 'old', createdAt: old, terms: [], attachments: [refs[0]!] },
      { _id: keptMsg, conversationId: convId, seq: 102, senderId: 'alice', clientMsgId: 'ret-new', text: 'new', createdAt: new Date(), terms: [], attachments: [refs[1]!] },
    ]);
    await svc.markAttached([oldFile.attachmentId], oldMsg.toHexString());
    await svc.markAttached([keptFile.attachmentId], keptMsg.toHexString());
    const jobs = await createJobs({ db: store.db, instanceId: 'r1', attachments: svc, settings: { ...defaultJobsSettings, retentionDays: 30, retentionMode: 'delete' } });
    const run = await jobs.runJob('retention');
    expect(run.status).toBe('succeeded');
    expect(await store.messages.findOne({ _id: oldMsg })).toBeNull();
    expect(await exists(oldFile.key)).toBe(false);
    expect(await attachmentCollection(store.db).findOne({ _id: oldFile.attachmentId })).toBeNull();
    expect(await exists(keptFile.key)).toBe(true);
    expect(await attachmentCollection(store.db).findOne({ _id: keptFile.attachmentId })).toMatchObject({ status: 'attached' });
  });
});

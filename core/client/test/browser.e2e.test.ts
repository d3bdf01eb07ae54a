import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { MongoClient } from 'mongodb';
import puppeteer, { type Browser, type BrowserContext, type Page } from 'puppeteer-core';
import { io } from 'socket.io-client';
import { startMinio, type RunningMinio } from '../../../ops/services/minio';
import { requireCommand } from '../../../ops/services/system-packages';
import { createS3Client, ensureBucket } from '../../src/media/s3';
import { s3Env, startTestCore, uniqueDbName, type TestCore } from '../../test/harness';
import { buildClient } from '../build';
import { SwitchboardClient, socketIoFactory, type MessageView } from '../src';

/**
 * The reference web client (core/client/web) in headless Chromium (Debian's, driven by
 * puppeteer-core: nothing is downloaded), against two real cores on one database and Redis: the page
 * talks to core A (which serves it at /app/), a Node library client for the other member talks to
 * core B, so every delivery crosses instances.
 *
 * Offline is Chromium's network emulation (page.setOfflineMode). For the reload, the page must come
 * back without being able to send: core A refuses new Socket.IO connections for that while (DevTools
 * request blocking does not cover WebSockets), so the queued messages can only come from IndexedDB.
 */
const repoRoot = path.join(__dirname, '..', '..', '..');
const screenshotPath = path.join(repoRoot, 'var', 'screenshots', 'web-client.png');

let chromium: string;
let buildDir: string;
let a: TestCore | undefined;
let b: TestCore | undefined;
let browser: Browser | undefined;
let bo: SwitchboardClient | undefined;
let mongo: MongoClient | undefined;
/** Attachments: both cores on one MinIO (its CORS admits loopback page origins, as the bucket's admits the app's). */
let minio: RunningMinio | undefined;
/** Uncaught exceptions in the page (must stay empty) and its console (for failure messages). */
const pageErrors: string[] = [];
const consoleLines: string[] = [];

beforeAll(async () => {
  // Missing browser: fails here, naming `npm run services -- provision` (never skipped).
  chromium = requireCommand('chromium');
  buildDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-web-'));
  await buildClient(buildDir);
  const db = uniqueDbName();
  minio = await startMinio();
  const s3 = createS3Client({ bucket: 'media', endpoint: minio.endpoint, region: minio.region, accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey });
  await ensureBucket(s3, 'media');
  s3.destroy();
  // Short engine pings: a cut connection is noticed in about two seconds on both sides.
  const pings = { SOCKET_PING_INTERVAL_MS: '1000', SOCKET_PING_TIMEOUT_MS: '1000', ...s3Env(minio, 'media') };
  a = await startTestCore({ INSTANCE_ID: 'web-a', WEB_CLIENT_DIR: path.join(buildDir, 'web'), ...pings }, { redis: true, db });
  b = await startTestCore({ INSTANCE_ID: 'web-b', WEB_CLIENT_DIR: path.join(buildDir, 'web'), ...pings }, { redis: true, db });
  mongo = new MongoClient(a.config.MONGODB_URI);
  browser = await puppeteer.launch({
    executablePath: chromium,
    headless: true,
    // root (CI containers) cannot use Chromium's sandbox; /dev/shm is small in containers
    args: [...(process.getuid?.() === 0 ? ['--no-sandbox'] : []), '--disable-dev-shm-usage', '--disable-gpu'],
  });
  // Which Chromium this run drove (Debian's package moves with the machine): in the log for every run.
  console.log(`browser test: ${await browser.version()} (${chromium}), puppeteer-core ${require('puppeteer-core/package.json').version}`);
}, 120_000);

afterAll(async () => {
  // Each step on its own: a failure in one must not leave the browser or a core running.
  bo?.close();
  await browser?.close().catch(() => browser?.process()?.kill('SIGKILL'));
  await mongo?.close().catch(() => undefined);
  await a?.stop().catch(() => undefined);
  await b?.stop().catch(() => undefined);
  await minio?.stop().catch(() => undefined);
  if (buildDir) fs.rmSync(buildDir, { recursive: true, force: true });
}, 60_000);

const pages: Page[] = [];

/** What each page shows, for a failure message. */
async function describePages(): Promise<string> {
  const shown = await Promise.all(pages.map((page) =>
    // Evaluated in the page on its <body> (this file is type-checked without the DOM lib).
    page.$eval('body', (body) => JSON.stringify({
      user: body.querySelector('#user')?.textContent,
      state: body.querySelector('#state')?.textContent,
      messages: [...body.querySelectorAll('#messages li')].map((li) => `${li.getAttribute('data-seq')}:${li.textContent}`),
      pending: [...body.querySelectorAll('#pending li')].map((li) => li.textContent),
      notice: body.querySelector('#receipts')?.textContent,
      signin: body.querySelector('#signin-error')?.textContent,
    })).then((json) => `${page.url()} ${json}`, (error: unknown) => `page not readable: ${String(error)}`)));
  return shown.join(' ; ') || 'no page';
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > timeoutMs) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; the pages show ${await describePages()}; page errors: ${pageErrors.join(' | ') || 'none'}; console (last 10): ${consoleLines.slice(-10).join(' | ')}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Shown { seq: number; sender: string; text: string; clientMsgId: string }
const shownMessages = (page: Page): Promise<Shown[]> =>
  page.$$eval('#messages li', (lis) => lis.map((li) => ({
    seq: Number(li.getAttribute('data-seq')),
    sender: li.querySelector('.sender')?.textContent ?? '',
    text: li.querySelector('.text')?.textContent ?? '',
    clientMsgId: li.getAttribute('data-client-msg-id') ?? '',
  })));
const shownPending = (page: Page): Promise<{ text: string; clientMsgId: string }[]> =>
  page.$$eval('#pending li', (lis) => lis.map((li) => ({ text: li.querySelector('.text')?.textContent ?? '', clientMsgId: li.getAttribute('data-client-msg-id') ?? '' })));
const textOf = (page: Page, selector: string): Promise<string> => page.$eval(selector, (el) => el.textContent ?? '');
const connectionState = (page: Page): Promise<string | undefined> => page.$eval('#state', (el) => el.getAttribute('data-state') ?? undefined);

/** A valid RGB PNG of width × height (one colour), so the page can decode it (naturalWidth > 0). */
function pngOf(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(zlib.crc32(body), 8 + data.length);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  const row = Buffer.concat([Buffer.from([0]), Buffer.alloc(width * 3, 0x5a)]);
  const pixels = zlib.deflateSync(Buffer.concat(Array.from({ length: height }, () => row)));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', header), chunk('IDAT', pixels), chunk('IEND', Buffer.alloc(0))]);
}

async function sendFromPage(page: Page, text: string): Promise<void> {
  await page.type('#text', text);
  await page.keyboard.press('Enter');
}

/** Opens the web client on `core` in a fresh page of `context`, signed in as `userId` with the conversation open. */
async function signIn(context: BrowserContext, core: TestCore, userId: string, conversationId: string): Promise<Page> {
  const page = await context.newPage();
  pages.push(page);
  page.on('pageerror', (error) => pageErrors.push(`${userId}: ${String(error)}`));
  // Console lines are for the failure message only: while offline, failed loads are expected there.
  page.on('console', (m) => consoleLines.push(`${userId} console.${m.type()}: ${m.text()}`));
  // As a developer would: open /app/, paste a token from `npm run token`, sign in.
  await page.goto(`${core.url}/app/#c=${conversationId}`);
  await page.type('#token', await core.token(userId));
  await page.click('#signin-form button[type=submit]');
  await until(`${userId}'s page to connect`, async () => (await connectionState(page)) === 'connected');
  await page.waitForSelector(`#conversations button[data-conversation-id="${conversationId}"]`);
  return page;
}

describe('reference web client in headless Chromium', () => {
  it('chats with a Node client across instances; messages sent offline survive a reload and are delivered once, in order', async () => {
    const core = a!;
    const messages = mongo!.db(core.config.MONGODB_DB).collection('messages');
    const conversationId: string = (await core.api('amy', 'POST', '/api/conversations', { type: 'group', name: 'browser', memberIds: ['bo'] })).body.id;

    // The other member: the library in Node, on core B.
    const boReceived: MessageView[] = [];
    bo = new SwitchboardClient({
      url: b!.url,
      getToken: () => b!.token('bo'),
      socketFactory: socketIoFactory(io as never),
      backoff: { baseMs: 100, maxMs: 1_000 },
    });
    bo.on('error', () => undefined);
    bo.on('message', (m) => boReceived.push(m));
    const boSaw = { typing: [] as string[], read: [] as { userId: string; seq: number }[] };
    bo.on('typing', (e) => e.typing && boSaw.typing.push(e.userId));
    bo.on('read', (e) => boSaw.read.push({ userId: e.userId, seq: e.seq }));
    bo.subscribe(conversationId, { afterSeq: 0 });
    bo.connect();

    const page = await signIn(browser!.defaultBrowserContext(), core, 'amy', conversationId);
    await until('bo to connect', () => bo!.state === 'connected');

    // Online: both sides send; both see the same messages in the same order.
    await sendFromPage(page, 'p1');
    await until('p1 on both sides', async () => boReceived.some((m) => m.text === 'p1') && (await shownMessages(page)).some((m) => m.text === 'p1'));
    await bo.send(conversationId, 'b1');
    await sendFromPage(page, 'p2');
    const online = ['p1', 'b1', 'p2'];
    await until('p1 b1 p2 on both sides', async () => (await shownMessages(page)).length === 3 && boReceived.length === 3);
    expect((await shownMessages(page)).map((m) => m.text)).toEqual(online);
    expect(boReceived.map((m) => m.text)).toEqual(online);
    expect((await shownMessages(page)).map((m) => m.seq)).toEqual(boReceived.map((m) => m.seq));

    // Typing and read state, both ways: the page typed (typing_start) and read bo's b1 (mark_read);
    // bo types and reads, and the page says so.
    await until('bo to see amy typing and reading', () => boSaw.typing.includes('amy') && boSaw.read.some((r) => r.userId === 'amy' && r.seq >= 2));
    bo.typing(conversationId, true);
    await until('the page to show bo typing', async () => /bo is typing/.test(await textOf(page, '#typing')));
    await bo.markRead(conversationId, 3);
    await until('the page to show bo read up to #3', async () => (await textOf(page, '#receipts')) === 'Read by bo up to #3');

    // Offline: the page notices, and what it sends now waits in the outbox (IndexedDB).
    await page.setOfflineMode(true);
    await until('the page to notice it is offline', async () => (await connectionState(page)) !== 'connected');
    for (const text of ['o1', 'o2', 'o3']) await sendFromPage(page, text);
    await until('three queued messages shown as pending', async () => (await shownPending(page)).length === 3);
    const queued = await shownPending(page);
    expect(queued.map((q) => q.text)).toEqual(['o1', 'o2', 'o3']);
    // Meanwhile the other side goes on: the page must catch this up when it is back.
    await bo.send(conversationId, 'b2');

    // Reload while the core refuses the page's socket (its Socket.IO transport is paused: a server
    // middleware refuses every new connection): the page and its API calls load, but nothing can be
    // sent, so the queue shown after the reload can only come from IndexedDB.
    let paused = true;
    core.core.io.use((_socket, next) => (paused ? next(new Error('transport paused by the test')) : next()));
    await page.setOfflineMode(false);
    await page.reload();
    await until('the queue restored after the reload', async () => (await shownPending(page).catch(() => [])).length === 3);
    expect((await shownPending(page)).map((q) => q.clientMsgId)).toEqual(queued.map((q) => q.clientMsgId));
    expect(await connectionState(page)).not.toBe('connected');
    expect(await messages.countDocuments({ senderId: 'amy', clientMsgId: { $in: queued.map((q) => q.clientMsgId) } })).toBe(0);

    // Back online: the outbox is flushed with the same clientMsgIds, catch-up brings b2.
    paused = false;
    const all = [...online, 'o1', 'o2', 'o3', 'b2'];
    await until('every message on both sides', async () => boReceived.length >= 7 && (await shownPending(page)).length === 0 && (await shownMessages(page)).length >= 4, 45_000);
    await new Promise((r) => setTimeout(r, 500)); // a late duplicate would show up here
    const pageSaw = await shownMessages(page);
    // The page shows the last 50 of history after the reload: here all of it, seq order, once each.
    expect(pageSaw.map((m) => m.seq)).toEqual([...pageSaw.map((m) => m.seq)].sort((x, y) => x - y));
    expect(new Set(pageSaw.map((m) => m.seq)).size).toBe(pageSaw.length);
    expect(boReceived.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(pageSaw.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    // Order between b2 (sent while the page was away) and the o-messages is the core's: same on both sides.
    expect(pageSaw.map((m) => m.text)).toEqual(boReceived.map((m) => m.text));
    expect([...boReceived.map((m) => m.text)].sort()).toEqual([...all].sort());
    expect(boReceived.filter((m) => m.text.startsWith('o')).map((m) => m.text)).toEqual(['o1', 'o2', 'o3']);

    // Exactly once in the database: one document per queued clientMsgId.
    for (const { clientMsgId } of queued) expect(await messages.countDocuments({ senderId: 'amy', clientMsgId })).toBe(1);
    expect(await messages.countDocuments({ senderId: { $in: ['amy', 'bo'] } })).toBe(7);

    fs.mkdirSync(path.dirname(screenshotPath), { recursive: true });
    await page.screenshot({ path: screenshotPath as `${string}.png`, fullPage: true });
    expect(pageErrors).toEqual([]);
  }, 120_000);

  it('unread counts in the list follow messages to a conversation that is not open, without a reload; opening it clears them (read state on the core)', async () => {
    const create = async (name: string) => (await a!.api('eve', 'POST', '/api/conversations', { type: 'group', name, memberIds: ['fay'] })).body.id as string;
    const open = await create('open one');
    const other = await create('other one');
    // fay, the second user, sends on core B: every broadcast crosses instances to eve's page on core A.
    let n = 0;
    const fayPosts = async (text: string) => {
      const response = await b!.api('fay', 'POST', `/api/conversations/${other}/messages`, { clientMsgId: `fay-${++n}`, text });
      expect(response.status).toBe(201);
    };
    const context = await browser!.createBrowserContext();
    const page = await signIn(context, a!, 'eve', open);
    const listed = (): Promise<{ id: string; unread: string }[]> => page.$$eval('#conversations button', (buttons) => buttons.map((b) => ({
      id: b.getAttribute('data-conversation-id') ?? '',
      unread: b.querySelector('.unread')?.textContent ?? '',
    })));
    const unreadOf = async (id: string) => (await listed()).find((c) => c.id === id)?.unread ?? 'not listed';
    await until('both conversations listed', async () => (await listed()).length === 2);
    expect(await unreadOf(other)).toBe('');
    const reloads = await page.evaluate('performance.getEntriesByType("navigation").length + ":" + performance.timeOrigin');

    // Live: the count rises and the conversation moves to the top (the list is ordered by activity).
    await fayPosts('f1');
    await fayPosts('f2');
    await until('2 unread on the other conversation', async () => (await unreadOf(other)) === '2');
    expect((await listed())[0]!.id).toBe(other);
    expect(await unreadOf(open)).toBe('');

    // A reconnect: what came meanwhile is counted once (the core's count after the reconnect plus
    // nothing twice), however the live path and the list load interleave.
    await page.setOfflineMode(true);
    await until('the page to notice it is offline', async () => (await connectionState(page)) !== 'connected');
    await fayPosts('f3');
    await page.setOfflineMode(false);
    await until('3 unread after the reconnect', async () => (await connectionState(page)) === 'connected' && (await unreadOf(other)) === '3', 45_000);
    await fayPosts('f4');
    await until('4 unread', async () => (await unreadOf(other)) === '4');
    await new Promise((r) => setTimeout(r, 1_000)); // a late duplicate or a stale list load would show here
    expect(await unreadOf(other)).toBe('4');
    // All of that without a reload of the page.
    expect(await page.evaluate('performance.getEntriesByType("navigation").length + ":" + performance.timeOrigin')).toBe(reloads);

    // Opening it clears the count; the read position reaches the core (through the library's markRead).
    await page.click(`#conversations button[data-conversation-id="${other}"]`);
    await until('the four messages shown', async () => (await shownMessages(page)).length === 4);
    expect(await unreadOf(other)).toBe('');
    const coreSays = async () => ((await a!.api('eve', 'GET', '/api/conversations?limit=100')).body.items as { id: string; unreadCount: number }[]).find((c) => c.id === other)?.unreadCount;
    await until('the core to count nothing unread for eve', async () => (await coreSays()) === 0);
    // Back to the first one: a new message to the one just read counts from zero again.
    await page.click(`#conversations button[data-conversation-id="${open}"]`);
    await fayPosts('f5');
    await until('1 unread', async () => (await unreadOf(other)) === '1');
    expect(pageErrors).toEqual([]);
    await context.close();
  }, 120_000);

  it('two browsers chat across instances; one goes offline, sends three, comes back: each delivered once, in order, on both sides', async () => {
    const conversationId: string = (await a!.api('cy', 'POST', '/api/conversations', { type: 'group', name: 'two browsers', memberIds: ['di'] })).body.id;
    const messages = mongo!.db(a!.config.MONGODB_DB).collection('messages');
    // Two isolated browser contexts (own storage, own IndexedDB), each on its own core.
    const cyContext = await browser!.createBrowserContext();
    const diContext = await browser!.createBrowserContext();
    const cy = await signIn(cyContext, a!, 'cy', conversationId);
    const di = await signIn(diContext, b!, 'di', conversationId);
    const texts = async (page: Page) => (await shownMessages(page)).map((m) => m.text);
    // Presence: di opened the conversation after cy (user_online, across instances).
    await until('cy to see di arrive', async () => (await textOf(cy, '#presence')) === 'di is here');

    await sendFromPage(cy, 'c1');
    await until('c1 on both pages', async () => (await texts(di)).includes('c1') && (await texts(cy)).includes('c1'));
    await sendFromPage(di, 'd1');
    await until('d1 on both pages', async () => (await texts(cy)).includes('d1') && (await texts(di)).includes('d1'));

    await cy.setOfflineMode(true);
    await until('cy to notice it is offline', async () => (await connectionState(cy)) !== 'connected');
    for (const text of ['c2', 'c3', 'c4']) await sendFromPage(cy, text);
    await until('three queued on cy', async () => (await shownPending(cy)).length === 3);
    const queued = await shownPending(cy);
    await sendFromPage(di, 'd2');
    await until('d2 on di', async () => (await texts(di)).includes('d2'));
    expect(await texts(di)).not.toContain('c2');

    await cy.setOfflineMode(false);
    await until('six messages on both pages, nothing pending', async () => (await shownMessages(cy)).length === 6 && (await shownMessages(di)).length === 6 && (await shownPending(cy)).length === 0, 45_000);
    await new Promise((r) => setTimeout(r, 500)); // a late duplicate would show up here
    const cySaw = await shownMessages(cy);
    const diSaw = await shownMessages(di);
    expect(cySaw.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(diSaw.map((m) => `${m.seq}:${m.sender}:${m.text}`)).toEqual(cySaw.map((m) => `${m.seq}:${m.sender}:${m.text}`));
    expect(cySaw.filter((m) => m.sender === 'cy').map((m) => m.text)).toEqual(['c1', 'c2', 'c3', 'c4']);
    expect(cySaw.slice(0, 3).map((m) => m.text)).toEqual(['c1', 'd1', 'd2']);
    for (const { clientMsgId } of queued) expect(await messages.countDocuments({ senderId: 'cy', clientMsgId })).toBe(1);
    expect(cySaw.filter((m) => m.sender === 'cy').map((m) => m.clientMsgId).slice(1)).toEqual(queued.map((q) => q.clientMsgId));

    await di.screenshot({ path: path.join(path.dirname(screenshotPath), 'web-client-two-browsers.png') as `${string}.png`, fullPage: true });
    expect(pageErrors).toEqual([]);
    await cyContext.close();
    await diContext.close();
  }, 120_000);

  it('attaches an image: presigned upload from the page, the Node client gets the message and downloads exactly those bytes, the page shows it', async () => {
    const conversationId: string = (await a!.api('eve', 'POST', '/api/conversations', { type: 'group', name: 'pictures', memberIds: ['fay'] })).body.id;
    const fayReceived: MessageView[] = [];
    const fay = new SwitchboardClient({ url: b!.url, getToken: () => b!.token('fay'), socketFactory: socketIoFactory(io as never), backoff: { baseMs: 100, maxMs: 1_000 } });
    fay.on('error', () => undefined);
    fay.on('message', (m) => fayReceived.push(m));
    fay.subscribe(conversationId, { afterSeq: 0 });
    fay.connect();
    try {
      const context = await browser!.createBrowserContext();
      const page = await signIn(context, a!, 'eve', conversationId);
      const png = pngOf(3, 2);
      const file = path.join(buildDir, 'dot.png');
      fs.writeFileSync(file, png);

      // The control is labelled and reachable from the keyboard (Tab from the message field).
      expect(await page.$eval('label[for="attach"]', (l) => l.textContent)).toBe('Attach an image');
      await page.focus('#text');
      await page.keyboard.press('Tab');
      expect(await page.evaluate(() => (globalThis as unknown as { document: { activeElement: { id: string } } }).document.activeElement.id)).toBe('attach');
      const input = await page.$('#attach');
      await (input as unknown as { uploadFile(p: string): Promise<void> }).uploadFile(file);
      await sendFromPage(page, 'a dot');

      await until('fay to receive the message with its attachment', () => fayReceived.some((m) => m.text === 'a dot' && m.attachments?.length === 1));
      const message = fayReceived.find((m) => m.text === 'a dot')!;
      expect(message.attachments).toEqual([{ id: expect.any(String), filename: 'dot.png', contentType: 'image/png', size: png.length, downloadPath: `/api/conversations/${conversationId}/attachments/${message.attachments![0]!.id}` }]);
      expect(Buffer.from(await fay.downloadAttachment(message.attachments![0]!)).equals(png)).toBe(true);

      // The page renders it through a presigned GET it asked the core for (CSP and MinIO's CORS allow it).
      await until('the page to show the decoded image', async () => (await page.$$eval('#messages li img', (imgs) => imgs.map((i) => (i as unknown as { naturalWidth: number }).naturalWidth))).some((w) => w === 3));
      const src = await page.$eval('#messages li img', (img) => img.getAttribute('src') ?? '');
      expect(new URL(src).searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
      expect(await textOf(page, '#attach-status')).toBe('Sent dot.png');
      expect(await page.$eval('#attach', (i) => (i as unknown as { value: string }).value)).toBe('');
      fs.mkdirSync(path.dirname(screenshotPath), { recursive: true });
      await page.screenshot({ path: path.join(path.dirname(screenshotPath), 'web-client-attach.png') as `${string}.png`, fullPage: true });

      // A URL that no longer works (what an expired presigned GET looks like: MinIO answers 403): the page
      // asks the core for a fresh one and shows the image again.
      const broken = src.replace(/X-Amz-Signature=[0-9a-f]{64}/, `X-Amz-Signature=${'0'.repeat(64)}`);
      await page.$eval('#messages li img', (img, url) => { (img as unknown as { src: string }).src = url; }, broken);
      await until('the page to show the image again from a fresh URL', async () => {
        const now = await page.$eval('#messages li img', (img) => ({ src: img.getAttribute('src') ?? '', width: (img as unknown as { naturalWidth: number }).naturalWidth, complete: (img as unknown as { complete: boolean }).complete }));
        return now.src !== broken && now.complete && now.width === 3;
      });
      expect(pageErrors).toEqual([]);
      await context.close();
    } finally {
      fay.close();
    }
  }, 120_000);
});

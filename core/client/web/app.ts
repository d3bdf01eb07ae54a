/**
 * The reference web client: plain TypeScript on the library's browser bundle (the build rewrites the
 * import below to ./switchboard-client.browser.js, see core/client/build.ts). Everything a chat UI
 * needs from the delivery guarantees comes from @switchboard/client: the connection state machine,
 * the outbox (IndexedDB, so unsent messages survive a reload), in-order gap-safe delivery.
 *
 * Sign-in is a pasted token (development: `npm run --silent token -- alice`), kept in sessionStorage
 * so a reload of the tab stays signed in. The open conversation is in the URL hash (#c=<id>).
 */
import { AuthError, IndexedDbOutboxStore, createClient, type AttachmentView, type ConversationView, type MessageView, type OutboxEntry, type SwitchboardClient } from '../src/index';
import { UnreadCounts } from './unread';

const tokenKey = 'switchboard-token';
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

const ui = {
  state: $<HTMLOutputElement>('state'),
  who: $('who'),
  user: $('user'),
  signout: $<HTMLButtonElement>('signout'),
  signin: $('signin'),
  signinForm: $<HTMLFormElement>('signin-form'),
  token: $<HTMLTextAreaElement>('token'),
  signinError: $('signin-error'),
  chat: $('chat'),
  refresh: $<HTMLButtonElement>('refresh'),
  conversations: $<HTMLUListElement>('conversations'),
  createForm: $<HTMLFormElement>('create-form'),
  members: $<HTMLInputElement>('members'),
  conversation: $('conversation'),
  title: $('conversation-title'),
  messages: $<HTMLOListElement>('messages'),
  pending: $<HTMLOListElement>('pending'),
  typing: $('typing'),
  receipts: $('receipts'),
  presence: $('presence'),
  sendForm: $<HTMLFormElement>('send-form'),
  text: $<HTMLInputElement>('text'),
  attach: $<HTMLInputElement>('attach'),
  attachStatus: $('attach-status'),
};

/** The token's subject (the client never verifies tokens: the core does). */
function subjectOf(token: string): string | undefined {
  try {
    const payload = JSON.parse(atob(token.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/'))) as { sub?: unknown };
    return typeof payload.sub === 'string' ? payload.sub : undefined;
  } catch {
    return undefined;
  }
}

interface Session {
  client: SwitchboardClient;
  userId: string;
  conversations: Map<string, ConversationView>;
  /** Every listed conversation is followed raw (its room joined): its messages move its unread count and its place in the list. */
  following: Map<string, { unsubscribe(): void }>;
  unread: UnreadCounts;
  /** A list load is running / another was asked for meanwhile (resyncs come in bursts: one load serves them). */
  listing?: Promise<void>;
  listAgain?: boolean;
  current?: { id: string; unsubscribe(): void; lastSeq: number };
  typing: Map<string, number>;
  readBy: Map<string, number>;
}
let session: Session | undefined;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

const label = (c: ConversationView) => c.name ?? ((c.members ?? []).map((m) => m.userId).join(', ') || c.id);

function renderConversations(): void {
  if (!session) return;
  const items = [...session.conversations.values()].sort((a, b) => (b.lastMessageAt ?? b.createdAt).localeCompare(a.lastMessageAt ?? a.createdAt));
  ui.conversations.replaceChildren(...items.map((c) => {
    const button = el('button', { type: 'button' }, label(c));
    button.dataset.conversationId = c.id;
    if (session?.current?.id === c.id) button.setAttribute('aria-current', 'true');
    const unread = session?.current?.id === c.id ? 0 : session!.unread.count(c.id);
    if (unread) button.append(el('span', { className: 'unread', title: 'unread messages' }, String(unread)));
    button.addEventListener('click', () => (location.hash = `c=${c.id}`));
    return el('li', {}, button);
  }));
}

/** Loads the list from the core (the truth for unread counts); calls made while one runs share one more load. */
function loadConversations(): Promise<void> {
  const s = session;
  if (!s) return Promise.resolve();
  if (s.listing) {
    s.listAgain = true;
    return s.listing;
  }
  s.listing = (async () => {
    do {
      s.listAgain = false;
      await listOnce(s);
    } while (s.listAgain && session === s);
    s.listing = undefined;
  })();
  return s.listing;
}

async function listOnce(s: Session): Promise<void> {
  try {
    const page = await s.client.listConversations({ limit: '100' });
    if (session !== s) return;
    s.conversations = new Map(page.items.map((c) => [c.id, c]));
    for (const c of page.items) s.unread.reconcile(c);
    s.unread.retain(new Set(s.conversations.keys()));
    follow(s);
    const current = s.current && s.conversations.get(s.current.id);
    if (current) ui.title.textContent = label(current);
    renderConversations();
    openFromHash();
  } catch (error) {
    ui.receipts.textContent = `Could not load conversations: ${(error as Error).message}`;
  }
}

/**
 * Joins the room of every listed conversation (raw: the count needs seqs, not the messages in order;
 * the library joins again after every reconnect, and the list load on `connected` covers what was
 * missed meanwhile), and leaves those no longer listed.
 */
function follow(s: Session): void {
  for (const id of s.conversations.keys()) if (!s.following.has(id)) s.following.set(id, s.client.subscribe(id, { raw: true }));
  for (const [id, subscription] of [...s.following]) {
    if (s.conversations.has(id)) continue;
    subscription.unsubscribe();
    s.following.delete(id);
  }
}

/** A message for any followed conversation, as it came (duplicates and gaps included): counted by seq. */
function onBroadcast(m: MessageView): void {
  const s = session;
  const conversation = s?.conversations.get(m.conversationId);
  if (!s || !conversation) return;
  conversation.lastSeq = Math.max(conversation.lastSeq, m.seq);
  if (!conversation.lastMessageAt || m.createdAt > conversation.lastMessageAt) conversation.lastMessageAt = m.createdAt;
  if (s.current?.id !== m.conversationId) s.unread.onMessage(m.conversationId, m.seq, m.senderId === s.userId);
  renderConversations();
}

/**
 * Shows an image attachment. Attachments carry no URL (issue 21): the page asks the core for a
 * presigned GET (members only, short-lived) and, when the image fails to load because that URL has
 * expired (a reconnect, a re-render later), asks for a fresh one, a few times at most.
 */
function attachmentImage(client: SwitchboardClient, attachment: AttachmentView): HTMLImageElement {
  const img = el('img', { alt: attachment.filename });
  img.dataset.attachmentId = attachment.id;
  let tries = 0;
  const load = () => {
    tries += 1;
    client.attachmentUrl(attachment).then(
      ({ url }) => (img.src = url),
      (error: Error) => (img.alt = `${attachment.filename} (not available: ${error.message})`),
    );
  };
  img.addEventListener('error', () => {
    if (tries < 3) load();
  });
  load();
  return img;
}

/** Other files: a button that fetches a fresh presigned GET and opens it (served as a download). */
function attachmentLink(client: SwitchboardClient, attachment: AttachmentView): HTMLButtonElement {
  const button = el('button', { type: 'button' }, `Download ${attachment.filename}`);
  button.addEventListener('click', () => {
    client.attachmentUrl(attachment).then(({ url }) => window.open(url, '_blank', 'noopener'), (error: Error) => (ui.receipts.textContent = `Could not download ${attachment.filename}: ${error.message}`));
  });
  return button;
}

function appendMessage(m: MessageView): void {
  if (ui.messages.querySelector(`li[data-seq="${m.seq}"]`)) return; // the library delivers once; a reopened view may not
  const li = el('li', {}, el('span', { className: 'sender' }, m.senderId), el('span', { className: 'text' }, m.text));
  if (m.attachments?.length && session) {
    const client = session.client;
    li.append(el('span', { className: 'attachments' }, ...m.attachments.map((a) => (a.contentType.startsWith('image/') ? attachmentImage(client, a) : attachmentLink(client, a)))));
  }
  li.dataset.seq = String(m.seq);
  li.dataset.clientMsgId = m.clientMsgId;
  li.title = new Date(m.createdAt).toLocaleString();
  ui.messages.append(li);
}

/** The outbox entries of the open conversation, shown until the core acknowledges them. */
function renderPending(): void {
  if (!session?.current) return ui.pending.replaceChildren();
  const id = session.current.id;
  ui.pending.replaceChildren(...session.client.pending().filter((e: OutboxEntry) => e.conversationId === id).map((e) => {
    const li = el('li', {}, el('span', { className: 'sender' }, session!.userId), el('span', { className: 'text' }, e.text), ' (sending…)');
    li.dataset.clientMsgId = e.clientMsgId;
    return li;
  }));
}

function renderTyping(): void {
  if (!session?.current) return;
  const now = Date.now();
  const who = [...session.typing].filter(([, until]) => until > now).map(([user]) => user);
  ui.typing.textContent = who.length ? `${who.join(', ')} ${who.length > 1 ? 'are' : 'is'} typing…` : '';
}

function renderReceipts(): void {
  if (!session?.current) return;
  const parts = [...session.readBy].filter(([user]) => user !== session!.userId).map(([user, seq]) => `${user} up to #${seq}`);
  ui.receipts.textContent = parts.length ? `Read by ${parts.join(', ')}` : '';
}

function openFromHash(): void {
  const id = new URLSearchParams(location.hash.slice(1)).get('c');
  if (session && id && session.current?.id !== id) openConversation(id);
}

function openConversation(id: string): void {
  if (!session) return;
  session.current?.unsubscribe();
  const known = session.conversations.get(id);
  ui.title.textContent = known ? label(known) : id;
  ui.messages.replaceChildren();
  session.typing.clear();
  session.readBy.clear();
  ui.typing.textContent = ui.receipts.textContent = ui.presence.textContent = '';
  ui.conversation.hidden = false;
  // The last 50 messages (all of them when the list is not loaded yet), then everything new, in
  // order, once (the library's catch-up).
  const afterSeq = Math.max(0, (known?.lastSeq ?? 0) - 50);
  const subscription = session.client.subscribe(id, { afterSeq });
  session.current = { id, unsubscribe: () => subscription.unsubscribe(), lastSeq: 0 };
  // Read here; the core is told (markRead) as the messages are shown.
  if (known) session.unread.read(id, known.lastSeq);
  renderConversations();
  renderPending();
  ui.text.focus();
}

/** Conversations with a read position waiting to be sent (per conversation: switching away within the delay still marks the one left). */
const readTimers = new Set<string>();
function markReadSoon(): void {
  const current = session?.current;
  if (!session || !current || readTimers.has(current.id)) return;
  const { client } = session;
  readTimers.add(current.id);
  setTimeout(() => {
    readTimers.delete(current.id);
    if (current.lastSeq > 0 && document.visibilityState === 'visible') client.markRead(current.id, current.lastSeq).catch(() => undefined);
  }, 500);
}

function start(token: string): void {
  const userId = subjectOf(token);
  if (!userId) return signOut('That is not a token (three base64url parts with a `sub`).');
  sessionStorage.setItem(tokenKey, token);
  const client = createClient({
    url: location.origin,
    // The pasted token is all there is: a rejected one means signing in again.
    getToken: (reason) => {
      if (reason === 'rejected') throw new AuthError('the token was rejected');
      return token;
    },
    store: new IndexedDbOutboxStore(`switchboard-outbox-${userId}`),
  });
  session = { client, userId, conversations: new Map(), following: new Map(), unread: new UnreadCounts(), typing: new Map(), readBy: new Map() };
  ui.user.textContent = userId;
  ui.who.hidden = ui.chat.hidden = false;
  ui.signin.hidden = true;

  client.on('stateChange', (state, _previous, info) => {
    ui.state.value = info.reason && state === 'reconnecting' ? `${state} (${info.reason})` : state;
    ui.state.dataset.state = state;
    if (state === 'connected') void loadConversations();
  });
  client.on('message', (m) => {
    const current = session?.current;
    if (current?.id === m.conversationId) {
      appendMessage(m);
      current.lastSeq = Math.max(current.lastSeq, m.seq);
      session?.typing.delete(m.senderId);
      renderTyping();
      // One's own messages too: the core counts every seq above the read position as unread.
      markReadSoon();
    }
    const conversation = session?.conversations.get(m.conversationId);
    if (conversation) {
      conversation.lastSeq = Math.max(conversation.lastSeq, m.seq);
      conversation.lastMessageAt = m.createdAt;
    }
  });
  client.on('broadcast', onBroadcast);
  // The core may have missed broadcasts for this conversation: its list says what is unread now.
  client.on('resync', () => void loadConversations());
  client.on('sent', renderPending);
  client.on('failed', (entry, error) => {
    renderPending();
    ui.receipts.textContent = `Not sent (${error.problem?.code ?? error.kind}): ${entry.text}`;
  });
  client.on('typing', (e) => {
    if (e.conversationId !== session?.current?.id || e.userId === userId) return;
    if (e.typing) session.typing.set(e.userId, Date.now() + 6_000);
    else session.typing.delete(e.userId);
    renderTyping();
    setTimeout(renderTyping, 6_100);
  });
  // Presence comes as changes only (the core sends no snapshot): shown as the last thing seen.
  client.on('online', (e) => {
    if (e.conversationId === session?.current?.id && e.userId !== userId) ui.presence.textContent = `${e.userId} is here`;
  });
  client.on('offline', (e) => {
    if (e.conversationId === session?.current?.id && e.userId !== userId) ui.presence.textContent = `${e.userId} went offline`;
  });
  client.on('joined', (ack) => {
    if (ack.conversationId !== session?.current?.id) return;
    for (const user of ack.typing) session.typing.set(user, Date.now() + 6_000);
    renderTyping();
  });
  client.on('read', (e) => {
    if (e.userId === userId && session) {
      // Read here or on another device: the list shows it at once.
      session.unread.read(e.conversationId, e.seq);
      renderConversations();
    }
    if (e.conversationId !== session?.current?.id) return;
    session.readBy.set(e.userId, Math.max(session.readBy.get(e.userId) ?? 0, e.seq));
    renderReceipts();
  });
  client.on('sessionEnded', (reason) => signOut(`Signed out (${reason}). Paste a fresh token.`));
  client.on('error', (error) => console.warn('switchboard:', error));
  void client.ready().then(renderPending);
  client.connect();
  // The conversation in the URL opens at once (its queued sends show even before the core answers).
  openFromHash();
  void loadConversations();
}

function signOut(message = ''): void {
  session?.client.close('signed out');
  session = undefined;
  sessionStorage.removeItem(tokenKey);
  ui.who.hidden = ui.chat.hidden = ui.conversation.hidden = true;
  ui.signin.hidden = false;
  ui.signinError.textContent = message;
  ui.state.value = ui.state.dataset.state = 'closed';
}

ui.signinForm.addEventListener('submit', (event) => {
  event.preventDefault();
  start(ui.token.value.trim());
});
ui.signout.addEventListener('click', () => signOut());
ui.refresh.addEventListener('click', () => void loadConversations());
ui.createForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const memberIds = ui.members.value.split(',').map((s) => s.trim()).filter(Boolean);
  session?.client.createConversation({ type: 'group', name: memberIds.join(', '), memberIds }).then(
    (c) => {
      ui.members.value = '';
      if (session) {
        session.conversations.set(c.id, c);
        session.unread.reconcile(c);
        follow(session);
      }
      location.hash = `c=${c.id}`;
    },
    (error: Error) => (ui.receipts.textContent = `Could not create it: ${error.message}`),
  );
});

let typingUntil = 0;
ui.text.addEventListener('input', () => {
  const current = session?.current;
  if (!current || Date.now() < typingUntil) return;
  typingUntil = Date.now() + 3_000;
  session!.client.typing(current.id, true);
});
ui.sendForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const current = session?.current;
  const text = ui.text.value.trim();
  const file = ui.attach.files?.[0];
  if (!session || !current) return;
  if (file) return void sendWithImage(session, current.id, text, file);
  if (!text) return;
  ui.text.value = '';
  typingUntil = 0;
  session.client.typing(current.id, false);
  // Stored in the outbox (IndexedDB) before anything goes on the wire; retried until acknowledged.
  const sending = session.client.send(current.id, text);
  sending.catch(() => undefined).finally(renderPending);
  // send() queues the entry once the store is read: show it as pending right after.
  void session.client.ready().then(renderPending);
});
/**
 * The image goes straight to object storage (the library's presigned PUT), then the message carrying
 * it goes through the outbox like any other. The upload needs the network: offline it fails here,
 * and the form keeps the text and the file for another try.
 */
function sendWithImage(s: Session, conversationId: string, text: string, file: File): void {
  ui.attachStatus.textContent = `Uploading ${file.name}…`;
  ui.attach.disabled = true;
  s.client.sendWithAttachments(conversationId, text, [{ filename: file.name, contentType: file.type || 'application/octet-stream', body: file }]).then(
    () => {
      ui.attachStatus.textContent = `Sent ${file.name}`;
      ui.text.value = '';
      ui.attach.value = '';
    },
    (error: Error & { problem?: { detail?: string } }) => (ui.attachStatus.textContent = `Could not send ${file.name}: ${error.problem?.detail ?? error.message}`),
  ).finally(() => {
    ui.attach.disabled = false;
    renderPending();
  });
}

window.addEventListener('hashchange', openFromHash);

const saved = sessionStorage.getItem(tokenKey);
if (saved) start(saved);

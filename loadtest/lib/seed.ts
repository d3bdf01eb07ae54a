import type { SystemUnderTest } from './stack';

export interface Seeded {
  users: string[];
  /** Conversation ids per user (the user is a member). */
  conversationsOf: Map<string, string[]>;
  history: { id: string; lastSeq: number; member: string }[];
}

async function call(sut: SystemUnderTest, userId: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${sut.core.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${await sut.token(userId)}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path} as ${userId}: ${res.status} ${text.slice(0, 300)}`);
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

export async function createConversation(sut: SystemUnderTest, members: string[], name: string): Promise<string> {
  const [creator, ...others] = members;
  const { json } = await call(sut, creator!, 'POST', '/api/conversations', { type: 'group', name, memberIds: others });
  return (json as { id: string }).id;
}

/** Runs fn over items with bounded concurrency. */
export async function pool<T, R>(items: T[], concurrency: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  }));
  return out;
}

/** Users, group conversations and message history for the API scenarios (through the public API). */
export async function seedApi(sut: SystemUnderTest, tag: string, s: { users: number; conversations: number; membersPerConversation: number; historyConversations: number; historyMessages: number }): Promise<Seeded> {
  const users = Array.from({ length: s.users }, (_, i) => `lt-${tag}-u${i}`);
  const conversationsOf = new Map(users.map((u) => [u, [] as string[]]));
  const specs = Array.from({ length: s.conversations }, (_, k) => Array.from({ length: s.membersPerConversation }, (_, j) => users[(k + j) % users.length]!));
  const ids = await pool(specs, 8, (members, k) => createConversation(sut, members, `load ${tag} ${k}`));
  specs.forEach((members, k) => members.forEach((u) => conversationsOf.get(u)!.push(ids[k]!)));
  const history = ids.slice(0, s.historyConversations).map((id, k) => ({ id, lastSeq: 0, member: specs[k]![0]! }));
  const posts = history.flatMap((h, k) => Array.from({ length: s.historyMessages }, (_, n) => ({ h, k, n })));
  await pool(posts, 16, async ({ h, k, n }) => {
    await call(sut, specs[k]![n % s.membersPerConversation]!, 'POST', `/api/conversations/${h.id}/messages`, { clientMsgId: `seed-${tag}-${k}-${n}`, text: `seeded message ${n} of conversation ${k} with a few words to index` });
  });
  for (const h of history) h.lastSeq = s.historyMessages;
  return { users, conversationsOf, history };
}

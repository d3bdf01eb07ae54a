import { startTestCore, type TestCore } from './harness';

let t: TestCore;
beforeAll(async () => {
  t = await startTestCore();
});
afterAll(async () => {
  await t.stop();
});

describe('POST /api/conversations', () => {
  it('creates a group with its members and returns 201', async () => {
    const res = await t.api('alice', 'POST', '/api/conversations', { type: 'group', name: 'Ops', memberIds: ['bob', 'carol'] });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ type: 'group', name: 'Ops', lastSeq: 0, createdBy: 'alice' });
    expect(res.body.id).toMatch(/^[0-9a-f]{24}$/);
    expect(res.body.members.map((m: { userId: string }) => m.userId).sort()).toEqual(['alice', 'bob', 'carol']);
  });

  it('refuses a group without a name: 400 "name is required" as problem+json', async () => {
    const res = await t.api('alice', 'POST', '/api/conversations', { type: 'group', memberIds: ['bob'] });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.body).toMatchObject({ code: 'validation_failed', detail: 'name is required', status: 400 });
  });

  it('returns the same direct conversation (200) instead of a duplicate, from either side', async () => {
    const first = await t.api('dana', 'POST', '/api/conversations', { type: 'direct', memberIds: ['erin'] });
    const again = await t.api('dana', 'POST', '/api/conversations', { type: 'direct', memberIds: ['erin'] });
    const reverse = await t.api('erin', 'POST', '/api/conversations', { type: 'direct', memberIds: ['dana'] });
    expect(first.status).toBe(201);
    expect(again.status).toBe(200);
    expect(reverse.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);
    expect(reverse.body.id).toBe(first.body.id);
    const listed = await t.api('dana', 'GET', '/api/conversations');
    expect(listed.body.items.filter((c: { id: string }) => c.id === first.body.id)).toHaveLength(1);
  });

  it('refuses a direct conversation without exactly one other member', async () => {
    const res = await t.api('dana', 'POST', '/api/conversations', { type: 'direct', memberIds: ['x', 'y'] });
    expect(res.status).toBe(400);
    expect(res.body.errors[0].path).toBe('memberIds');
  });

  it('answers 401 without a token and stores nothing', async () => {
    const res = await t.api(null, 'POST', '/api/conversations', { type: 'group', name: 'nope' });
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('unauthorized');
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
  });

  it('answers 415 to a body that is not JSON', async () => {
    const res = await t.api('alice', 'POST', '/api/conversations', 'type=group', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(res.status).toBe(415);
    expect(res.body.code).toBe('unsupported_media_type');
  });
});

describe('GET /api/conversations and /:id', () => {
  it('lists my conversations by last activity with unread counts and pages with nextCursor', async () => {
    const ids: string[] = [];
    for (const name of ['one', 'two', 'three']) {
      const res = await t.api('lister', 'POST', '/api/conversations', { type: 'group', name, memberIds: ['peer'] });
      ids.push(res.body.id);
    }
    await t.api('peer', 'POST', `/api/conversations/${ids[0]}/messages`, { clientMsgId: 'm1', text: 'bump one' });
    await t.api('peer', 'POST', `/api/conversations/${ids[0]}/messages`, { clientMsgId: 'm2', text: 'bump one again' });
    const page1 = await t.api('lister', 'GET', '/api/conversations?limit=2');
    expect(page1.status).toBe(200);
    expect(page1.body.items.map((c: { name: string }) => c.name)).toEqual(['one', 'three']);
    expect(page1.body.items[0].unreadCount).toBe(2);
    expect(page1.body.nextCursor).toEqual(expect.any(String));
    const page2 = await t.api('lister', 'GET', `/api/conversations?limit=2&cursor=${page1.body.nextCursor}`);
    expect(page2.body.items.map((c: { name: string }) => c.name)).toEqual(['two']);
    expect(page2.body.nextCursor).toBeNull();
  });

  it('lists each conversation with my own read marker: the unread count follows what I marked read, not another member\'s', async () => {
    const { body: conv } = await t.api('reader', 'POST', '/api/conversations', { type: 'group', name: 'marked', memberIds: ['writer'] });
    for (const n of [1, 2, 3]) await t.api('writer', 'POST', `/api/conversations/${conv.id}/messages`, { clientMsgId: `w${n}`, text: `message ${n}` });
    expect((await t.api('reader', 'POST', `/api/conversations/${conv.id}/read`, { seq: 1 })).status).toBe(200);
    expect((await t.api('writer', 'POST', `/api/conversations/${conv.id}/read`, { seq: 3 })).status).toBe(200);
    const mine = (await t.api('reader', 'GET', '/api/conversations')).body.items.find((c: { id: string }) => c.id === conv.id);
    expect(mine).toMatchObject({ lastSeq: 3, lastReadSeq: 1, unreadCount: 2 });
    const theirs = (await t.api('writer', 'GET', '/api/conversations')).body.items.find((c: { id: string }) => c.id === conv.id);
    expect(theirs).toMatchObject({ lastSeq: 3, lastReadSeq: 3, unreadCount: 0 });
  });

  it('rejects a forged cursor with 400', async () => {
    const res = await t.api('lister', 'GET', '/api/conversations?cursor=not-a-cursor');
    expect(res.status).toBe(400);
  });

  it('shows a conversation to members only: 403 for others, 404 for unknown or malformed ids', async () => {
    const created = await t.api('owner1', 'POST', '/api/conversations', { type: 'group', name: 'private', memberIds: [] });
    expect((await t.api('owner1', 'GET', `/api/conversations/${created.body.id}`)).status).toBe(200);
    const outsider = await t.api('stranger', 'GET', `/api/conversations/${created.body.id}`);
    expect(outsider.status).toBe(403);
    expect(outsider.body.code).toBe('forbidden');
    expect((await t.api('owner1', 'GET', '/api/conversations/0123456789abcdef01234567')).status).toBe(404);
    expect((await t.api('owner1', 'GET', '/api/conversations/not-an-id')).body.code).toBe('not_found');
  });
});

describe('join, leave, archive', () => {
  it('joins an open group once; a second join is 409', async () => {
    const group = await t.api('host', 'POST', '/api/conversations', { type: 'group', name: 'open', visibility: 'open' });
    expect(group.body.visibility).toBe('open');
    const joined = await t.api('guest', 'POST', `/api/conversations/${group.body.id}/join`);
    expect(joined.status).toBe(200);
    const twice = await t.api('guest', 'POST', `/api/conversations/${group.body.id}/join`);
    expect(twice.status).toBe(409);
    expect(twice.body).toMatchObject({ code: 'conflict', reason: 'already_member' });
  });

  it('joining an unknown conversation is 404; a direct one is 403', async () => {
    expect((await t.api('guest', 'POST', '/api/conversations/0123456789abcdef01234567/join')).status).toBe(404);
    const direct = await t.api('p1', 'POST', '/api/conversations', { type: 'direct', memberIds: ['p2'] });
    expect((await t.api('intruder', 'POST', `/api/conversations/${direct.body.id}/join`)).status).toBe(403);
  });

  it('leaving removes access', async () => {
    const group = await t.api('host2', 'POST', '/api/conversations', { type: 'group', name: 'leavers', memberIds: ['leaver'] });
    expect((await t.api('leaver', 'POST', `/api/conversations/${group.body.id}/leave`)).status).toBe(204);
    expect((await t.api('leaver', 'GET', `/api/conversations/${group.body.id}`)).status).toBe(403);
    expect((await t.api('leaver', 'POST', `/api/conversations/${group.body.id}/leave`)).status).toBe(403);
  });

  it('archives (owner only); an archived conversation refuses new messages with 409', async () => {
    const group = await t.api('arch', 'POST', '/api/conversations', { type: 'group', name: 'old', memberIds: ['m'] });
    expect((await t.api('m', 'POST', `/api/conversations/${group.body.id}/archive`)).status).toBe(403);
    const archived = await t.api('arch', 'POST', `/api/conversations/${group.body.id}/archive`);
    expect(archived.status).toBe(200);
    expect(archived.body.archivedAt).toEqual(expect.any(String));
    const send = await t.api('m', 'POST', `/api/conversations/${group.body.id}/messages`, { clientMsgId: 'late', text: 'hello?' });
    expect(send.status).toBe(409);
    expect(send.body.reason).toBe('archived');
    const history = await t.api('m', 'GET', `/api/conversations/${group.body.id}/messages`);
    expect(history.body.items).toHaveLength(0);
  });
});

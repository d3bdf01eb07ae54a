import { signLocalToken, tokenSettingsFrom } from '../../src/auth/tokens';
import { startCoreProcess, stopAllCoreProcesses, type CoreProcess } from '../core-process';
import { collect, sleep, uniqueDbName, type ClientSocket } from '../harness';
import { blip, connected, open } from './saved-session';

/**
 * Issue 21 item 2: a recovered Socket.IO session is accepted only when the new token verifies,
 * names the same user and every saved room is still a membership (read from the database);
 * otherwise the client gets a fresh session (no replay) and `conversation_resync` for what it is
 * still in. Each case goes across two instances (one MongoDB database, one Redis, streams adapter):
 * the session is saved by instance A and presented to instance B. A and B are separate core
 * processes (core/test/core-process.ts); everything is judged from the clients' side: the blip is
 * the client's transport closing under it (the server sees `transport close`, a recoverable reason),
 * and "recovered" is what socket.io tells the client (`socket.recovered`: the server answered with
 * the saved session id).
 */
let a: CoreProcess;
let b: CoreProcess;
const env = { CONNECTION_STATE_RECOVERY: 'true' };

beforeAll(async () => {
  const db = uniqueDbName();
  [a, b] = await Promise.all([startCoreProcess(env, { redis: true, db, name: 'recovery-a' }), startCoreProcess(env, { redis: true, db, name: 'recovery-b' })]);
}, 120_000);
afterAll(() => stopAllCoreProcesses(), 30_000);


/** Sam joins `conversationId` on A, sees one broadcast, then A drops the transport (a network blip): the session is saved. */
async function joinAndDrop(user: string, conversationId: string) {
  const s = open(a.url, { token: await a.token(user) });
  await connected(s);
  expect((await (s as any).timeout(5_000).emitWithAck('join_conversation', { conversationId })).error).toBeUndefined();
  const first = new Promise<void>((resolve) => s.once('message_received', () => resolve()));
  await a.api(owner, 'POST', `/api/conversations/${conversationId}/messages`, { clientMsgId: `seen-${conversationId}`, text: 'seen' });
  await first;
  return blip(s);
}

const owner = 'olga';
/** What socket.io reports to the client: true only when B answered with the saved session id. */
const recoveredOnB = (s: ClientSocket) => s.recovered;
const group = async (name: string, members: string[]) => (await a.api(owner, 'POST', '/api/conversations', { type: 'group', name, memberIds: members })).body.id as string;

describe('recovered sessions across two instances', () => {
  it('still a member, same user, valid token: recovered on B with the missed message (the positive case)', async () => {
    const id = await group('stays', ['sam']);
    const session = await joinAndDrop('sam', id);
    await a.api(owner, 'POST', `/api/conversations/${id}/messages`, { clientMsgId: 'missed-1', text: 'while away' });
    const s = open(b.url, { token: await b.token('sam') }, session);
    const got = collect<{ clientMsgId: string }>(s, 'message_received');
    await connected(s);
    await sleep(300);
    expect(recoveredOnB(s)).toBe(true);
    expect(got.map((m) => m.clientMsgId)).toEqual(['missed-1']);
    s.close();
  });

  it('removed while away: a fresh session on B, nothing replayed, no later broadcast', async () => {
    const id = await group('removed', ['sam', 'tom']);
    const keep = await group('kept', ['sam']);
    const session = await joinAndDrop('sam', id);
    expect((await a.api(owner, 'DELETE', `/api/conversations/${id}/members/sam`)).status).toBe(204);
    await a.api(owner, 'POST', `/api/conversations/${id}/messages`, { clientMsgId: 'secret-1', text: 'after removal' });
    const s = open(b.url, { token: await b.token('sam') }, session);
    const got = collect<{ clientMsgId: string }>(s, 'message_received');
    await connected(s);
    expect(recoveredOnB(s)).toBe(false);
    await a.api(owner, 'POST', `/api/conversations/${id}/messages`, { clientMsgId: 'secret-2', text: 'later' });
    await sleep(400);
    expect(got).toEqual([]);
    void keep;
    s.close();
  });

  it('removed from one of two conversations while away: fresh session, conversation_resync for the one still held', async () => {
    const gone = await group('gone', ['sam']);
    const held = await group('held', ['sam']);
    const s0 = open(a.url, { token: await a.token('sam') });
    await connected(s0);
    for (const conversationId of [gone, held]) expect((await (s0 as any).timeout(5_000).emitWithAck('join_conversation', { conversationId })).error).toBeUndefined();
    const first = new Promise<void>((resolve) => s0.once('message_received', () => resolve()));
    await a.api(owner, 'POST', `/api/conversations/${held}/messages`, { clientMsgId: 'h1', text: 'seen' });
    await first;
    const session = await blip(s0);
    expect((await a.api(owner, 'DELETE', `/api/conversations/${gone}/members/sam`)).status).toBe(204);
    const s = open(b.url, { token: await b.token('sam') }, session);
    const resync = collect<{ conversationId: string; lastSeq: number }>(s, 'conversation_resync');
    await connected(s);
    await sleep(300);
    expect(recoveredOnB(s)).toBe(false);
    expect(resync).toEqual([{ conversationId: held, lastSeq: 1 }]);
    s.close();
  });

  it('token expired while away: no recovery (the handshake is refused)', async () => {
    const id = await group('expired', ['sam']);
    const session = await joinAndDrop('sam', id);
    const expired = await signLocalToken(tokenSettingsFrom(b.config), 'sam', 60, new Date(Date.now() - 3_600_000));
    const s = open(b.url, { token: expired }, session);
    const got = collect(s, 'message_received');
    const error = await connected(s).then(() => undefined, (e: { data?: { code?: string } }) => e);
    expect(error?.data?.code).toBe('unauthorized');
    expect(got).toEqual([]);
    s.close();
  });

  it('another user presenting the recovered session id: a fresh session of their own, none of the rooms', async () => {
    const id = await group('hijack', ['sam']);
    const session = await joinAndDrop('sam', id);
    await a.api(owner, 'POST', `/api/conversations/${id}/messages`, { clientMsgId: 'for-sam', text: 'private' });
    const s = open(b.url, { token: await b.token('mallory') }, session);
    const got = collect<{ clientMsgId: string }>(s, 'message_received');
    await connected(s);
    expect(recoveredOnB(s)).toBe(false);
    await a.api(owner, 'POST', `/api/conversations/${id}/messages`, { clientMsgId: 'for-sam-2', text: 'private' });
    await sleep(400);
    expect(got).toEqual([]);
    // Mallory's fresh session is hers (her own conversations reach her) and holds none of sam's rooms (above).
    const own = (await a.api('olga', 'POST', '/api/conversations', { type: 'group', name: 'mallory-own', memberIds: ['mallory'] })).body.id as string;
    expect((await (s as any).timeout(5_000).emitWithAck('join_conversation', { conversationId: own })).error).toBeUndefined();
    await a.api(owner, 'POST', `/api/conversations/${own}/messages`, { clientMsgId: 'for-mallory', text: 'hers' });
    await sleep(400);
    expect(got.map((m) => m.clientMsgId)).toEqual(['for-mallory']);
    s.close();
  });
});

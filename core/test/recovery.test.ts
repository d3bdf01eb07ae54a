import { io as connect } from 'socket.io-client';
import { nextEvent, startTestCore, type ClientSocket } from './harness';

describe('connection state recovery (CONNECTION_STATE_RECOVERY=true)', () => {
  it('a client whose transport dropped gets back its rooms and the messages it missed', async () => {
    const t = await startTestCore({ CONNECTION_STATE_RECOVERY: 'true' });
    const id = (await t.api('rita', 'POST', '/api/conversations', { type: 'group', name: 'recover', memberIds: ['sam'] })).body.id;
    const sam: ClientSocket = connect(t.url, { auth: { token: await t.token('sam') }, transports: ['websocket'], reconnectionDelay: 100, forceNew: true });
    try {
      await new Promise<void>((resolve) => sam.once('connect', () => resolve()));
      expect((await (sam as any).emitWithAck('join_conversation', { conversationId: id })).error).toBeUndefined();
      // Recovery resumes from the offset of the last broadcast the client saw.
      const first = nextEvent(sam, 'message_received');
      await t.api('rita', 'POST', `/api/conversations/${id}/messages`, { clientMsgId: 'before', text: 'hello' });
      await first;
      const dropped = new Promise<string>((resolve) => sam.once('disconnect', resolve));
      // Simulates a network drop: the server closes the transport without a disconnect packet.
      t.core.io.of('/').sockets.get(sam.id!)!.conn.close();
      expect(await dropped).toBe('transport close');
      const missed = nextEvent<{ clientMsgId: string }>(sam, 'message_received');
      const reconnected = new Promise<void>((resolve) => sam.once('connect', () => resolve()));
      await t.api('rita', 'POST', `/api/conversations/${id}/messages`, { clientMsgId: 'while-away', text: 'you were offline' });
      await reconnected;
      expect(sam.recovered).toBe(true);
      expect((await missed).clientMsgId).toBe('while-away');
    } finally {
      sam.close();
      await t.stop();
    }
  });
});

/**
 * Baseline: the core's database round trips and nothing else. A bare Express app that answers the
 * listing and a history page by calling the core's own store and access functions (the same queries, on the
 * same seeded database as a core under test) — no token verification (the user is read from the
 * token unverified), no rate limits, validation, metrics or security headers; history pages through
 * the core's message view cache, as the core reads them.
 *
 * Its CPU per request is the floor the core's cannot go below without fewer or cheaper database
 * calls: `compare-trees.ts --floor` reports it next to the bare route and the cores (issue 23's
 * "core CPU per request ≤ 3× the bare route" against what the official driver costs here).
 *
 * Env: MONGODB_URI, MONGODB_DB (the database a core seeded), PORT, HOST.
 */
import express from 'express';
import { decodeJwt } from 'jose';
import { requireMembershipWithConversation } from '../../core/src/chat/access';
import { messageViewCache } from '../../core/src/chat/message-view-cache';
import { parseObjectId } from '../../core/src/domain/ids';
import { conversationsRepository } from '../../core/src/store/conversations-repository';
import { membershipsRepository } from '../../core/src/store/memberships-repository';
import { messagesRepository } from '../../core/src/store/messages-repository';
import { openStore } from '../../core/src/store/mongo-store';

async function main(): Promise<void> {
  const store = await openStore(process.env.MONGODB_URI!, process.env.MONGODB_DB!, { poolSize: 20 });
  const memberships = membershipsRepository(store);
  const conversations = conversationsRepository(store);
  const messages = messagesRepository(store);
  const views = messageViewCache();
  const userOf = (req: express.Request) => String(decodeJwt(req.header('authorization')!.slice(7)).sub);

  const app = express();
  app.disable('x-powered-by');
  app.get('/api/conversations', async (req, res) => {
    const rows = await memberships.pageForUser(userOf(req), { max: 2_000, limit: 20 });
    res.json({ items: rows.slice(0, 20).map(({ conversation: c, lastReadSeq }) => ({ id: c._id.toHexString(), name: c.name, lastSeq: c.lastSeq, unreadCount: c.lastSeq - lastReadSeq })), nextCursor: null });
  });
  app.get('/api/conversations/:id/messages', async (req, res) => {
    const id = parseObjectId(req.params.id)!;
    const found = await requireMembershipWithConversation({ conversations, memberships }, id, userOf(req));
    // The core's round trips as the core sends them: the page's ids and seqs, then the documents of those not in the view cache.
    const keys = await messages.pageKeys(id, { beforeSeq: Number(req.query.beforeSeq) }, Number(req.query.limit ?? 50));
    const items = await views.viewsOf(keys, messages.byIds);
    res.json({ items, lastSeq: found.conversation?.lastSeq ?? 0 });
  });

  const server = app.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1', () => {
    console.error(`[driver-floor] listening on ${JSON.stringify(server.address())}`);
  });
  server.keepAliveTimeout = 65_000;
  process.on('SIGTERM', () => server.close(() => void store.close().finally(() => process.exit(0))));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

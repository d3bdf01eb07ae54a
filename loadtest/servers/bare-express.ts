/**
 * Baseline: a bare Express route on the same machine - no auth, no validation, no database.
 * The core's API latency and max req/s are reported as ratios to this process's.
 */
import express from 'express';

const app = express();
app.disable('x-powered-by');
app.use(express.json({ limit: 65_536 }));
const item = (i: number) => ({ id: `c${i}`, type: 'group', name: `room ${i}`, lastSeq: i * 7, unread: i % 3, lastMessageAt: new Date(0).toISOString() });
const page = { items: Array.from({ length: 20 }, (_, i) => item(i)), nextCursor: null };

app.get('/health', (_req, res) => { res.json({ status: 'ok' }); });
app.get('/bare', (_req, res) => { res.json(page); });
app.post('/bare', (req, res) => { res.status(201).json({ id: 'm1', seq: 1, ...(req.body as object), createdAt: new Date().toISOString() }); });

const port = Number(process.env.PORT ?? 0);
const server = app.listen(port, process.env.HOST ?? '127.0.0.1', () => {
  console.error(`[bare-express] listening on ${JSON.stringify(server.address())}`);
});
server.keepAliveTimeout = 65_000;
process.on('SIGTERM', () => server.close(() => process.exit(0)));

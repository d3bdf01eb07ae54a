/**
 * Benchmark (not a test): how long retention takes on 1,000,000 messages.
 *   npx tsx core/src/jobs/bench-retention.ts [--messages 1000000] [--batch 5000] [--mode delete|archive]
 * Uses MONGODB_URI when set, else starts a throwaway mongo-java-server (memory) from ops/services.
 * Seeds old messages with insertMany in batches of 10,000 into a scratch database, then runs the
 * retention job once and prints seed and retention timings; the scratch database is dropped.
 */
import { randomBytes } from 'node:crypto';
import { ObjectId } from 'mongodb';
import type { MessageDoc } from '../store/documents';
import { openStore } from '../store/mongo-store';
import { startLocalStack } from '../../../ops/services/local-stack';
import { createJobRunner } from './job-runner';
import { ensureJobIndexes } from './job-store';
import { retentionJob } from './retention-job';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
};

async function main() {
  const total = Number(arg('messages', '1000000'));
  const batchSize = Number(arg('batch', '5000'));
  const mode = arg('mode', 'delete') as 'delete' | 'archive';
  const keep = Number(arg('keep', '0'));
  let stopStack: (() => Promise<void>) | undefined;
  let uri: string | undefined = process.env.MONGODB_URI;
  if (!uri) {
    const stack = await startLocalStack({ mongo: 'memory', redis: false });
    uri = stack.env.MONGODB_URI;
    stopStack = () => stack.stop();
  }
  if (!uri) throw new Error('no MongoDB URI');
  const store = await openStore(uri, `bench_${randomBytes(4).toString('hex')}`, { poolSize: 10, timeoutMS: 300_000 }); // bulk seeding: long steps
  try {
    await ensureJobIndexes(store.db);
    const conversations = Array.from({ length: 1000 }, () => new ObjectId());
    const seqs = new Map<string, number>();
    const old = new Date(Date.now() - 400 * 86_400_000);
    const doc = (i: number, createdAt: Date): MessageDoc => {
      const conversationId = conversations[i % conversations.length]!;
      const seq = (seqs.get(conversationId.toHexString()) ?? 0) + 1;
      seqs.set(conversationId.toHexString(), seq);
      return { _id: new ObjectId(), conversationId, seq, senderId: `user${i % 5000}`, clientMsgId: `m${i}`, text: `benchmark message number ${i} with a little text`, createdAt, terms: ['benchmark', 'message', 'number', 'little', 'text'] };
    };
    const t0 = performance.now();
    for (let i = 0; i < total; i += 10_000) {
      const n = Math.min(10_000, total - i);
      await store.messages.insertMany(Array.from({ length: n }, (_, k) => doc(i + k, old)), { ordered: false });
      if ((i / 10_000) % 10 === 9) process.stderr.write(`seeded ${i + n} (${((performance.now() - t0) / 1000).toFixed(1)} s)\n`);
    }
    if (keep > 0) await store.messages.insertMany(Array.from({ length: keep }, (_, k) => doc(total + k, new Date())));
    const seedS = (performance.now() - t0) / 1000;
    console.log(`seeded ${total} old messages (+${keep} recent) in ${seedS.toFixed(1)} s (${Math.round(total / seedS)} msg/s)`);

    const runner = createJobRunner({ db: store.db, instanceId: 'bench', jobs: [retentionJob(store.db, { retentionDays: 30, mode, batchSize, schedule: null })] });
    const t1 = performance.now();
    const result = await runner.runJob('retention');
    const runS = (performance.now() - t1) / 1000;
    const left = await store.messages.estimatedDocumentCount();
    console.log(`retention (${mode}, batch ${batchSize}): ${result.status}, ${result.itemsProcessed} messages in ${runS.toFixed(1)} s ` +
      `(${Math.round(result.itemsProcessed / runS)} msg/s, ${String(result.details.batches)} batches); ${left} messages left${result.errors.length ? `; errors: ${result.errors.join("; ")}` : ""}`);
  } finally {
    await store.db.dropDatabase().catch(() => undefined);
    await store.close();
    await stopStack?.();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});

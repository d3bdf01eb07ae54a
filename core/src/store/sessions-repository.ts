import type { Store } from './mongo-store';

const majority = { level: 'majority' } as const;

/** The one write that ends sessions: only ever raises `sessionsEndedAt`; `confirmedBy` restarts with the writer. */
const endSessionsUpdate = (at: Date, instanceId: string) =>
  ({ $max: { sessionsEndedAt: at }, $currentDate: { updatedAt: true as const }, $set: { confirmedBy: [instanceId] } });

/**
 * Durable session revocation (README "Ending a user's sessions"). `session_revocations` holds one
 * document per user whose sessions an operator ended: `sessionsEndedAt` only moves forward ($max),
 * and every token of the user issued at or before it is refused. The check every request makes is
 * `endedAt`: an `_id` equality lookup (the unique `_id_` index), cached per instance by the caller.
 *
 * `instances` is the fleet as the database sees it: each instance refreshes its `seenAt` about once
 * a second (its revocation sweep). A revocation is confirmed by every live instance — through the
 * Socket.IO adapter's ack, or, when an instance's Redis path is down, by its sweep adding itself to
 * `confirmedBy` — before the admin call answers 200.
 */
export function sessionsRepository(store: Pick<Store, 'sessionRevocations' | 'instances'>) {
  const revocations = store.sessionRevocations;
  const instances = store.instances;
  return {
    /**
     * Ends the user's sessions issued at or before `at` (the stored value never moves back) and
     * returns the stored `sessionsEndedAt`. `confirmedBy` restarts with the recording instance.
     */
    async record(userId: string, at: Date, instanceId: string): Promise<Date> {
      const doc = await revocations.findOneAndUpdate(
        { _id: userId },
        endSessionsUpdate(at, instanceId),
        { upsert: true, returnDocument: 'after', projection: { sessionsEndedAt: 1 } },
      );
      return doc!.sessionsEndedAt;
    },
    /**
     * `record` for many users in one unordered bulk write (a restore putting back a backup's
     * revocations, ops/backup/forward-only.ts): the same `$max`, so a value never moves back, even
     * against an end-sessions call running meanwhile. Each written record is re-confirmed by every
     * instance's sweep (`updatedAt` is now), which ends any socket it covers.
     */
    async recordMany(entries: { userId: string; at: Date }[], instanceId: string): Promise<void> {
      if (!entries.length) return;
      await revocations.bulkWrite(
        entries.map(({ userId, at }) => ({ updateOne: { filter: { _id: userId }, update: endSessionsUpdate(at, instanceId), upsert: true } })),
        { ordered: false },
      );
    },
    /** Every user's `sessionsEndedAt` (a restore reads them before it writes: one document per user whose sessions were ever ended). */
    async allEndedAt(): Promise<Map<string, Date>> {
      const docs = await revocations.find({}, { projection: { sessionsEndedAt: 1 }, readConcern: majority }).toArray();
      return new Map(docs.map((d) => [d._id, d.sessionsEndedAt]));
    },
    /** When the user's sessions were last ended, if ever: one `_id` lookup. Majority read: a rolled-back revocation must not be trusted, nor a stale secondary. */
    async endedAt(userId: string): Promise<Date | undefined> {
      return (await revocations.findOne({ _id: userId }, { projection: { sessionsEndedAt: 1 }, readConcern: majority }))?.sessionsEndedAt;
    },
    /** The same for many users (the re-check after the adapter reconnects): `_id $in`, users without a record absent. */
    async endedAtMany(userIds: string[]): Promise<Map<string, Date>> {
      if (!userIds.length) return new Map();
      const docs = await revocations.find({ _id: { $in: userIds } }, { projection: { sessionsEndedAt: 1 }, readConcern: majority }).toArray();
      return new Map(docs.map((d) => [d._id, d.sessionsEndedAt]));
    },
    /**
     * Revocations written since `since` (server time) that `instanceId` has not confirmed: the
     * sweep's page, by the `updated` index, oldest first.
     */
    async unconfirmedSince(since: Date, instanceId: string, limit: number): Promise<{ userId: string; sessionsEndedAt: Date }[]> {
      const docs = await revocations.find({ updatedAt: { $gte: since }, confirmedBy: { $ne: instanceId } }, { projection: { sessionsEndedAt: 1 } }).sort({ updatedAt: 1 }).limit(limit).toArray();
      return docs.map((d) => ({ userId: d._id, sessionsEndedAt: d.sessionsEndedAt }));
    },
    /** `instanceId` has ended its sockets of the user for this revocation (no-op once a newer one replaced it). */
    async confirm(userId: string, sessionsEndedAt: Date, instanceId: string): Promise<void> {
      await revocations.updateOne({ _id: userId, sessionsEndedAt }, { $addToSet: { confirmedBy: instanceId } });
    },
    /** Who has confirmed this revocation so far (empty once a newer one replaced it). */
    async confirmedBy(userId: string, sessionsEndedAt: Date): Promise<string[]> {
      return (await revocations.findOne({ _id: userId, sessionsEndedAt }, { projection: { confirmedBy: 1 } }))?.confirmedBy ?? [];
    },
    /** Marks the instance alive now and returns the database server's time (the sweep's clock). */
    async heartbeat(instanceId: string): Promise<Date> {
      const doc = await instances.findOneAndUpdate({ _id: instanceId }, { $currentDate: { seenAt: true } }, { upsert: true, returnDocument: 'after' });
      return doc!.seenAt;
    },
    /** Instances seen since `since` (server time, e.g. a heartbeat's answer minus a window): a handful of documents. */
    async liveInstances(since: Date): Promise<string[]> {
      const docs = await instances.find({ seenAt: { $gte: since } }, { projection: { _id: 1 } }).toArray();
      return docs.map((d) => d._id);
    },
    /** A stopping instance leaves the fleet (nothing waits for its confirmation afterwards). */
    async retire(instanceId: string): Promise<void> {
      await instances.deleteOne({ _id: instanceId });
    },
  };
}

export type SessionsRepository = ReturnType<typeof sessionsRepository>;

import type { ObjectId } from 'mongodb';
import { messageIdOf } from '../domain/ids';
import { messageView, type MessageView, type ShownMessageDoc } from './views';

/** Views held per instance: ~0.5 KB each, so ~10 MB at the default. */
export const DEFAULT_CACHED_MESSAGE_VIEWS = 20_000;

/**
 * Message views by message id, so a history page decodes only its ids and seqs from the database
 * (issue 23: decoding 50 full documents was most of a history request's CPU). Correct without any
 * invalidation: which messages exist, and at which seq, is always the database's answer for the
 * page (`pageKeys`), so a message removed by retention, a restore, or after its seq was burned is
 * simply not asked for; and what a message says never changes (nothing edits one) except its seq,
 * once: a copy deleted because its seq was burned is stored again under the same _id and a new seq
 * (chat/send-batcher.ts), so a cached view counts only when its seq is the one the database listed.
 * Bounded: the oldest entries go first (insertion order; pages near the newest messages, the ones
 * clients read on every reconnect, are the most recently learned).
 */
export function messageViewCache(max = DEFAULT_CACHED_MESSAGE_VIEWS) {
  const views = new Map<string, MessageView>();
  const put = (view: MessageView) => {
    views.set(view.id, view);
    if (views.size > max) views.delete(views.keys().next().value!);
  };
  return {
    /** A stored message's view (the send path's, so the next page showing it needs no decoding). */
    put,
    /**
     * The views of a page in its order: cached ones from memory, the rest read by `load` (one query)
     * and remembered. A message `load` no longer finds (removed meanwhile) is left out.
     */
    async viewsOf(keys: { _id: ObjectId; seq: number }[], load: (ids: ObjectId[]) => Promise<ShownMessageDoc[]>): Promise<MessageView[]> {
      // Hits are taken in this first pass: storing the misses below may evict them from a full cache.
      const page = keys.map((key): MessageView | undefined => {
        const view = views.get(messageIdOf(key._id));
        return view?.seq === key.seq ? view : undefined;
      });
      const missing = keys.filter((_, i) => page[i] === undefined).map((key) => key._id);
      if (missing.length) {
        const loaded = new Map<string, MessageView>();
        for (const doc of await load(missing)) {
          const view = messageView(doc);
          put(view);
          loaded.set(view.id, view);
        }
        keys.forEach((key, i) => {
          if (page[i]) return;
          const view = loaded.get(messageIdOf(key._id));
          // Read after the listing, a message may have moved on again (or gone): left out, as if read later.
          if (view?.seq === key.seq) page[i] = view;
        });
      }
      return page.filter((view): view is MessageView => view !== undefined);
    },
    size: () => views.size,
  };
}


import { AppError } from '../errors';
import { directConversationId, newObjectId } from '../store/ids';
import { membershipId, type ConversationDoc, type MembershipDoc } from '../store/documents';
import { conversationIdOrNotFound, notFound, requireMembership } from './access';
import type { ChatDeps } from './deps';
import type { MembershipCache } from './membership-cache';
import { createConversationSchema, listQuerySchema, parseInput } from './validation';
import { conversationView, type ConversationView } from './views';

function member(conversation: ConversationDoc, userId: string, role: MembershipDoc['role'], at: Date): MembershipDoc {
  return { _id: membershipId(conversation._id, userId), conversationId: conversation._id, userId, role, joinedAt: at, lastReadSeq: 0 };
}

interface ListCursor { t: number; id: string }
const encodeCursor = (c: ListCursor) => Buffer.from(JSON.stringify(c)).toString('base64url');
function decodeCursor(raw: string): ListCursor {
  try {
    const value = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as ListCursor;
    if (typeof value.t === 'number' && typeof value.id === 'string') return value;
  } catch { /* answered below */ }
  throw new AppError('validation_failed', 'cursor is not valid; pass the nextCursor of a previous page', { errors: [{ path: 'cursor', message: 'invalid cursor' }] });
}

export function conversationUseCases(deps: ChatDeps, membershipCache: MembershipCache) {
  return {
    /** Groups are always new; a direct conversation between the same two users is returned, never duplicated. */
    async create(userId: string, input: unknown): Promise<{ conversation: ConversationView; created: boolean }> {
      const body = parseInput(createConversationSchema, input);
      const now = deps.now();
      const others = [...new Set(body.memberIds.filter((id) => id !== userId))];
      if (body.type === 'direct') {
        const other = others[0];
        if (others.length !== 1 || !other) {
          throw new AppError('validation_failed', 'a direct conversation has exactly one other member', { errors: [{ path: 'memberIds', message: 'exactly one other member' }] });
        }
        const doc: ConversationDoc = { _id: directConversationId(userId, other), type: 'direct', name: null, createdBy: userId, createdAt: now, lastSeq: 0, lastMessageAt: null, archivedAt: null };
        const created = await deps.conversations.insert(doc);
        const stored = created ? doc : await deps.conversations.findById(doc._id);
        if (!stored) throw new AppError('internal', 'direct conversation vanished while being created');
        // Repairs a half-finished earlier create too: memberships are upserts.
        await deps.memberships.addMany([member(stored, userId, 'owner', now), member(stored, other, 'owner', now)]);
        const members = await deps.memberships.listForConversation(stored._id);
        return { conversation: conversationView(stored, { members }), created };
      }
      const doc: ConversationDoc = { _id: newObjectId(), type: 'group', name: body.name ?? null, createdBy: userId, createdAt: now, lastSeq: 0, lastMessageAt: null, archivedAt: null };
      await deps.conversations.insert(doc);
      const members = [member(doc, userId, 'owner', now), ...others.map((id) => member(doc, id, 'member', now))];
      await deps.memberships.addMany(members);
      return { conversation: conversationView(doc, { members }), created: true };
    },

    /** My conversations, most recent activity first, each with its unread count. */
    async list(userId: string, query: unknown): Promise<{ items: ConversationView[]; nextCursor: string | null }> {
      const { cursor, limit } = parseInput(listQuerySchema, query);
      const after = cursor ? decodeCursor(cursor) : undefined;
      const memberships = await deps.memberships.listForUser(userId);
      const byConversation = new Map(memberships.map((m) => [m.conversationId.toHexString(), m]));
      const docs = await deps.conversations.findMany(memberships.map((m) => m.conversationId));
      const key = (d: ConversationDoc) => (d.lastMessageAt ?? d.createdAt).getTime();
      const ordered = docs
        .sort((a, b) => key(b) - key(a) || b._id.toHexString().localeCompare(a._id.toHexString()))
        .filter((d) => !after || key(d) < after.t || (key(d) === after.t && d._id.toHexString() < after.id));
      const page = ordered.slice(0, limit);
      const last = page[page.length - 1];
      return {
        items: page.map((d) => conversationView(d, { membership: byConversation.get(d._id.toHexString()) })),
        nextCursor: ordered.length > limit && last ? encodeCursor({ t: key(last), id: last._id.toHexString() }) : null,
      };
    },

    async get(userId: string, id: string): Promise<ConversationView> {
      const conversationId = conversationIdOrNotFound(id);
      const membership = await requireMembership(deps, conversationId, userId);
      const [doc, members] = await Promise.all([deps.conversations.findById(conversationId), deps.memberships.listForConversation(conversationId)]);
      if (!doc) throw notFound();
      return conversationView(doc, { members, membership });
    },

    /**
     * Where a member stands in a conversation (for a socket joining its room): two _id lookups and
     * no member list, since thousands of sockets join at once after a deploy.
     */
    async position(userId: string, id: string): Promise<{ lastSeq: number; lastReadSeq: number }> {
      const conversationId = conversationIdOrNotFound(id);
      const membership = await requireMembership(deps, conversationId, userId);
      membershipCache.remember(conversationId.toHexString(), userId);
      const doc = await deps.conversations.findById(conversationId);
      if (!doc) throw notFound();
      return { lastSeq: doc.lastSeq, lastReadSeq: membership.lastReadSeq };
    },

    async join(userId: string, id: string): Promise<ConversationView> {
      const conversationId = conversationIdOrNotFound(id);
      const doc = await deps.conversations.findById(conversationId);
      if (!doc) throw notFound();
      if (doc.type !== 'group') throw new AppError('forbidden', 'Direct conversations cannot be joined.');
      if (doc.archivedAt) throw new AppError('conflict', 'This conversation is archived.', { reason: 'archived' });
      const membership = member(doc, userId, 'member', deps.now());
      if (!(await deps.memberships.insert(membership))) throw new AppError('conflict', 'You are already a member of this conversation.', { reason: 'already_member' });
      deps.events.membershipChanged({ conversationId: id, userId, change: 'joined' });
      return conversationView(doc, { membership });
    },

    async leave(userId: string, id: string): Promise<void> {
      const conversationId = conversationIdOrNotFound(id);
      const membership = await requireMembership(deps, conversationId, userId);
      const doc = await deps.conversations.findById(conversationId);
      if (doc?.type === 'direct') throw new AppError('conflict', 'You cannot leave a direct conversation; archive it instead.', { reason: 'direct_conversation' });
      await deps.memberships.remove(conversationId, membership.userId);
      membershipCache.forget(conversationId.toHexString(), userId);
      deps.events.membershipChanged({ conversationId: id, userId, change: 'left' });
    },

    /** Owners archive a group; either member archives a direct conversation. Archiving twice is harmless. */
    async archive(userId: string, id: string): Promise<ConversationView> {
      const conversationId = conversationIdOrNotFound(id);
      const membership = await requireMembership(deps, conversationId, userId);
      if (membership.role !== 'owner') throw new AppError('forbidden', 'Only the owner can archive this conversation.');
      const doc = await deps.conversations.archive(conversationId, deps.now());
      if (!doc) throw notFound();
      return conversationView(doc, { membership });
    },
  };
}

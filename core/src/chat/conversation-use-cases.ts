import { AppError } from '../errors';
import { directConversationId, newObjectId, parseObjectId, toObjectId, type ConversationId } from '../domain/ids';
import { membershipId, type ConversationDoc, type MembershipDoc } from '../store/documents';
import { notFound, requireMembership, requireMembershipWithConversation } from './access';
import type { ChatDeps } from './deps';
import type { MembershipCache } from './membership-cache';
import { addMembersSchema, createConversationSchema, listQuerySchema, parseInput, userIdSchema } from './validation';
import { conversationView, type ConversationView } from './views';

function member(conversation: ConversationDoc, userId: string, role: MembershipDoc['role'], at: Date): MembershipDoc {
  return { _id: membershipId(conversation._id, userId), conversationId: conversation._id, userId, role, joinedAt: at, lastReadSeq: 0 };
}

interface ListCursor { t: number; id: string }
const encodeCursor = (c: ListCursor) => Buffer.from(JSON.stringify(c)).toString('base64url');
function decodeCursor(raw: string): ListCursor {
  try {
    const value = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as ListCursor;
    if (typeof value.t === 'number' && Number.isFinite(value.t) && parseObjectId(String(value.id))) return value;
  } catch { /* answered below */ }
  throw new AppError('validation_failed', 'cursor is not valid; pass the nextCursor of a previous page', { errors: [{ path: 'cursor', message: 'invalid cursor' }] });
}

/** Longest-standing first; members who joined together are ordered by user id so the choice is stable. */
const bySeniority = (a: MembershipDoc, b: MembershipDoc) => a.joinedAt.getTime() - b.joinedAt.getTime() || a.userId.localeCompare(b.userId);

export function conversationUseCases(deps: ChatDeps, membershipCache: MembershipCache) {
  const groupMax = deps.membershipLimits?.groupMaxMembers ?? Number.POSITIVE_INFINITY;
  const perUserMax = deps.membershipLimits?.membershipsPerUserMax ?? Number.POSITIVE_INFINITY;

  /**
   * Refuses memberships beyond the limits before anything is written: a group of more than
   * GROUP_MAX_MEMBERS, or a user in more than MEMBERSHIPS_PER_USER_MAX conversations (409 with a
   * `reason`; the users at their limit are listed in `errors`). Counted, not reserved: requests that
   * race can each pass and overshoot by at most their own additions (a soft cap on a bound, not a quota).
   */
  async function assertRoomFor(currentMembers: number, newUserIds: string[]): Promise<void> {
    if (!newUserIds.length) return;
    if (currentMembers + newUserIds.length > groupMax) {
      throw new AppError('conflict', `A group has at most ${groupMax} members (${currentMembers} now, ${newUserIds.length} to add).`, { reason: 'group_full' });
    }
    if (!Number.isFinite(perUserMax)) return;
    const counts = await deps.memberships.countForUsers(newUserIds);
    const full = newUserIds.filter((u) => (counts.get(u) ?? 0) >= perUserMax);
    if (full.length) {
      throw new AppError('conflict', `A user belongs to at most ${perUserMax} conversations; ${full.length} of the users would exceed it.`, {
        reason: 'memberships_limit',
        errors: full.map((u) => ({ path: u, message: `already in ${perUserMax} conversations` })),
      });
    }
  }
  /**
   * A member is gone, whether they left or were removed: everywhere at once (sockets leave the room
   * and caches forget, on every instance). The last owner hands ownership to the longest-standing
   * member; the last member archives the group; a user left with no conversation has their sockets closed.
   */
  async function depart(id: ConversationId, membership: MembershipDoc): Promise<void> {
    const conversationId = toObjectId(id);
    const { userId } = membership;
    await deps.memberships.remove(conversationId, userId, deps.now());
    // Before answering: a send batch allocating after this re-reads its senders' memberships.
    await deps.conversations.bumpMembershipEpoch(conversationId);
    membershipCache.forget(id, userId);
    // Waits until the user's sockets are out of the room on every instance: once the removal
    // answers, no message sent afterwards reaches them (issue 21, join/remove race).
    await deps.events.membershipChanged({ conversationId: id, userId, change: 'left' });
    const rest = (await deps.memberships.listForConversation(conversationId)).sort(bySeniority);
    const heir = rest[0];
    if (!heir) await deps.conversations.archive(conversationId, deps.now());
    else if (membership.role === 'owner' && !rest.some((m) => m.role === 'owner')) await deps.memberships.setRole(conversationId, heir.userId, 'owner');
    if (!(await deps.memberships.hasAny(userId))) deps.events.endSessions(userId, 'no_conversations');
  }

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
        const doc: ConversationDoc = { _id: directConversationId(userId, other), type: 'direct', name: null, createdBy: userId, createdAt: now, activityAt: now, lastSeq: 0, lastMessageAt: null, archivedAt: null };
        const created = await deps.conversations.insert(doc);
        const found = created ? doc : await deps.conversations.findById(doc._id);
        // An archived direct conversation is reopened by asking for it again: its id is derived from the
        // pair, so it is the only one these two users can ever have (history kept, messages accepted again).
        const stored = found?.archivedAt ? await deps.conversations.reopen(doc._id) : found;
        if (!stored) throw new AppError('internal', 'direct conversation vanished while being created');
        const existing = await deps.memberships.findManyForUser([stored._id], userId);
        const otherExisting = await deps.memberships.findManyForUser([stored._id], other);
        await assertRoomFor(0, [...(existing.length ? [] : [userId]), ...(otherExisting.length ? [] : [other])]);
        // Repairs a half-finished earlier create too: memberships are upserts.
        await deps.memberships.addMany([member(stored, userId, 'owner', now), member(stored, other, 'owner', now)]);
        const members = await deps.memberships.listForConversation(stored._id);
        return { conversation: conversationView(stored, { members }), created };
      }
      await assertRoomFor(0, [userId, ...others]);
      const doc: ConversationDoc = { _id: newObjectId(), type: 'group', name: body.name ?? null, visibility: body.visibility ?? 'private', createdBy: userId, createdAt: now, activityAt: now, lastSeq: 0, lastMessageAt: null, archivedAt: null };
      await deps.conversations.insert(doc);
      const members = [member(doc, userId, 'owner', now), ...others.map((id) => member(doc, id, 'member', now))];
      await deps.memberships.addMany(members);
      return { conversation: conversationView(doc, { members }), created: true };
    },

    /** My conversations, most recent activity first, each with its unread count. */
    async list(userId: string, query: unknown): Promise<{ items: ConversationView[]; nextCursor: string | null }> {
      const { cursor, limit } = parseInput(listQuerySchema, query);
      const after = cursor ? decodeCursor(cursor) : undefined;
      // One aggregation (the user's memberships joined to their conversations), served by indexes.
      const rows = await deps.memberships.pageForUser(userId, {
        max: Number.isFinite(perUserMax) ? perUserMax * 2 : 100_000,
        ...(after ? { after: { t: new Date(after.t), id: parseObjectId(after.id)! } } : {}),
        limit,
      });
      const page = rows.slice(0, limit);
      const burned = await deps.seqs.burnedCounts(page.map(({ conversation: d, lastReadSeq }) => ({ conversationId: d._id, after: lastReadSeq, upTo: d.lastSeq, settledSeq: d.settledSeq ?? 0, generation: d.restoreGeneration })));
      const key = (d: ConversationDoc) => (d.activityAt ?? d.lastMessageAt ?? d.createdAt).getTime();
      const last = page[page.length - 1]?.conversation;
      return {
        items: page.map(({ conversation: d, lastReadSeq }) => conversationView(d, { membership: { lastReadSeq }, burnedUnread: burned.get(d._id.toHexString()) })),
        nextCursor: rows.length > limit && last ? encodeCursor({ t: key(last), id: last._id.toHexString() }) : null,
      };
    },

    async get(userId: string, id: ConversationId): Promise<ConversationView> {
      const conversationId = toObjectId(id);
      const { membership, conversation: doc } = await requireMembershipWithConversation(deps, conversationId, userId);
      const members = await deps.memberships.listForConversation(conversationId);
      if (!doc) throw notFound();
      const burned = await deps.seqs.burnedCounts([{ conversationId, after: membership.lastReadSeq, upTo: doc.lastSeq, settledSeq: doc.settledSeq ?? 0, generation: doc.restoreGeneration }]);
      return conversationView(doc, { members, membership, burnedUnread: burned.get(doc._id.toHexString()) });
    },

    /**
     * Where a member stands in a conversation (for a socket joining its room): two _id lookups and
     * no member list, since thousands of sockets join at once after a deploy.
     */
    async position(userId: string, id: ConversationId): Promise<{ lastSeq: number; lastReadSeq: number }> {
      const conversationId = toObjectId(id);
      const { membership, conversation: doc } = await requireMembershipWithConversation(deps, conversationId, userId);
      membershipCache.remember(id, userId);
      if (!doc) throw notFound();
      return { lastSeq: doc.lastSeq, lastReadSeq: membership.lastReadSeq };
    },

    /** Open groups can be joined by id; private ones (the default) only by an owner adding you. */
    async join(userId: string, id: ConversationId): Promise<ConversationView> {
      const conversationId = toObjectId(id);
      const doc = await deps.conversations.findById(conversationId);
      if (!doc) throw notFound();
      if (doc.type !== 'group') throw new AppError('forbidden', 'Direct conversations cannot be joined.');
      if (doc.visibility !== 'open') {
        if (await deps.memberships.find(conversationId, userId)) throw alreadyMember();
        throw new AppError('forbidden', 'This group is private: an owner adds members (POST /api/conversations/{id}/members).', { reason: 'private_group' });
      }
      if (doc.archivedAt) throw archived();
      if (await deps.memberships.find(conversationId, userId)) throw alreadyMember();
      await assertRoomFor(await deps.memberships.countForConversation(conversationId), [userId]);
      const membership = member(doc, userId, 'member', deps.now());
      if (!(await deps.memberships.insert(membership))) throw alreadyMember();
      deps.events.membershipChanged({ conversationId: id, userId, change: 'joined' });
      return conversationView(doc, { membership });
    },

    /** An owner adds members to a group; adding someone who is already in it changes nothing. */
    async addMembers(userId: string, id: ConversationId, input: unknown): Promise<ConversationView> {
      const conversationId = toObjectId(id);
      const { userIds } = parseInput(addMembersSchema, input);
      const membership = await requireMembership(deps, conversationId, userId);
      const doc = await deps.conversations.findById(conversationId);
      if (!doc) throw notFound();
      if (doc.type !== 'group') throw new AppError('forbidden', 'A direct conversation has exactly its two members.');
      if (membership.role !== 'owner') throw new AppError('forbidden', 'Only an owner can add members to this group.');
      if (doc.archivedAt) throw archived();
      const now = deps.now();
      const current = new Set((await deps.memberships.listForConversation(conversationId)).map((m) => m.userId));
      const added = [...new Set(userIds)].filter((u) => u !== userId && !current.has(u));
      await assertRoomFor(current.size, added);
      await deps.memberships.addMany(added.map((u) => member(doc, u, 'member', now)));
      for (const u of added) deps.events.membershipChanged({ conversationId: id, userId: u, change: 'joined' });
      const members = await deps.memberships.listForConversation(conversationId);
      return conversationView(doc, { members, membership });
    },

    async leave(userId: string, id: ConversationId): Promise<void> {
      const conversationId = toObjectId(id);
      const membership = await requireMembership(deps, conversationId, userId);
      const doc = await deps.conversations.findById(conversationId);
      if (doc?.type === 'direct') throw new AppError('conflict', 'You cannot leave a direct conversation; archive it instead.', { reason: 'direct_conversation' });
      await depart(id, membership);
    },

    /** An owner removes a member from a group (removing yourself is leaving). */
    async removeMember(userId: string, id: ConversationId, rawMemberId: unknown): Promise<void> {
      const conversationId = toObjectId(id);
      const memberId = parseInput(userIdSchema, rawMemberId);
      const membership = await requireMembership(deps, conversationId, userId);
      const doc = await deps.conversations.findById(conversationId);
      if (!doc) throw notFound();
      if (doc.type !== 'group') throw new AppError('forbidden', 'A direct conversation has exactly its two members.');
      if (membership.role !== 'owner' && memberId !== userId) throw new AppError('forbidden', 'Only an owner can remove members from this group.');
      const target = memberId === userId ? membership : await deps.memberships.find(conversationId, memberId);
      if (!target) throw new AppError('not_found', 'That user is not a member of this conversation.');
      await depart(id, target);
    },

    /** Owners archive a group; either member archives a direct conversation (asking for it again reopens it). */
    async archive(userId: string, id: ConversationId): Promise<ConversationView> {
      const conversationId = toObjectId(id);
      const membership = await requireMembership(deps, conversationId, userId);
      if (membership.role !== 'owner') throw new AppError('forbidden', 'Only the owner can archive this conversation.');
      const doc = await deps.conversations.archive(conversationId, deps.now());
      if (!doc) throw notFound();
      return conversationView(doc, { membership });
    },
  };
}

const alreadyMember = () => new AppError('conflict', 'You are already a member of this conversation.', { reason: 'already_member' });
const archived = () => new AppError('conflict', 'This conversation is archived.', { reason: 'archived' });

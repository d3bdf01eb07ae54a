import type { ObjectId } from 'mongodb';
import { AppError } from '../errors';
import { parseObjectId } from '../store/ids';
import type { MembershipDoc } from '../store/documents';
import type { ChatDeps } from './deps';

/** Malformed and unknown ids both answer 404, so ids cannot be probed. */
export function conversationIdOrNotFound(id: string): ObjectId {
  const objectId = parseObjectId(id);
  if (!objectId) throw notFound();
  return objectId;
}

export const notFound = () => new AppError('not_found', 'No such conversation.');

/**
 * The membership of a user, or the right error: 404 when the conversation does not exist,
 * 403 when it exists and the user is not a member. The common case is one _id lookup.
 */
export async function requireMembership(deps: Pick<ChatDeps, 'conversations' | 'memberships'>, conversationId: ObjectId, userId: string): Promise<MembershipDoc> {
  const membership = await deps.memberships.find(conversationId, userId);
  if (membership) return membership;
  const conversation = await deps.conversations.findById(conversationId);
  if (!conversation) throw notFound();
  throw new AppError('forbidden', 'You are not a member of this conversation.');
}

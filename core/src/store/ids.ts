import { ObjectId } from 'mongodb';
import { createHash } from 'node:crypto';

/** A conversation id from a client: a 24-hex ObjectId, or undefined (which the service answers with 404). */
export function parseObjectId(value: string): ObjectId | undefined {
  return /^[0-9a-f]{24}$/i.test(value) ? new ObjectId(value) : undefined;
}

export const newObjectId = (): ObjectId => new ObjectId();

/** Direct conversations get an id derived from the member pair, so the unique _id stops duplicates. */
export function directConversationId(a: string, b: string): ObjectId {
  const [x, y] = [a, b].sort();
  return new ObjectId(createHash('sha256').update(`direct\u0000${x}\u0000${y}`).digest().subarray(0, 12));
}

// ObjectId is BSON's value type (re-exported by the driver): the canonical string form is the domain's,
// the ObjectId conversions stay here so every id is parsed in one place.
import { ObjectId } from 'mongodb';
import { createHash } from 'node:crypto';

declare const brand: unique symbol;
/**
 * The one canonical form of a conversation id: 24 lowercase hex digits. Only `parseConversationId`
 * (at the edge) and `conversationIdOf` (from a stored ObjectId) make one, so rooms, events, cache
 * keys and logs never see the spelling a client happened to send.
 */
export type ConversationId = string & { readonly [brand]: 'ConversationId' };
/** A message id in the same canonical form. */
export type MessageId = string & { readonly [brand]: 'MessageId' };

const objectIdHex = /^[0-9a-f]{24}$/i;

/** A conversation id from a client, canonicalised; undefined when it is not an ObjectId (the service answers 404). */
export function parseConversationId(value: unknown): ConversationId | undefined {
  return typeof value === 'string' && objectIdHex.test(value) ? (value.toLowerCase() as ConversationId) : undefined;
}

export const conversationIdOf = (id: ObjectId): ConversationId => id.toHexString() as ConversationId;
export const messageIdOf = (id: ObjectId): MessageId => id.toHexString() as MessageId;
export const toObjectId = (id: ConversationId | MessageId): ObjectId => ObjectId.createFromHexString(id);

/** A conversation id from a client: a 24-hex ObjectId, or undefined (which the service answers with 404). */
export function parseObjectId(value: string): ObjectId | undefined {
  const id = parseConversationId(value);
  return id ? toObjectId(id) : undefined;
}

export const newObjectId = (): ObjectId => new ObjectId();

/** Direct conversations get an id derived from the member pair, so the unique _id stops duplicates. */
export function directConversationId(a: string, b: string): ObjectId {
  const [x, y] = [a, b].sort();
  return new ObjectId(createHash('sha256').update(`direct\u0000${x}\u0000${y}`).digest().subarray(0, 12));
}

import type { Db, ObjectId } from 'mongodb';
import { createDeclaredIndexes, type IndexDeclaration } from '../store/mongo-store';

export type AttachmentStatus = 'pending' | 'attached' | 'deleting';

export interface AttachmentDoc {
  /** Random, unguessable id (base64url of 16 bytes). */
  _id: string;
  conversationId: ObjectId;
  uploaderId: string;
  key: string;
  filename: string;
  contentType: string;
  /** Declared size, replaced by the stored object's size once HEAD confirmed it. */
  size: number;
  status: AttachmentStatus;
  createdAt: Date;
  uploadedAt?: Date | null;
  messageId?: string | null;
  attachedAt?: Date | null;
}

export const attachmentsCollection = 'attachments';

export const attachmentCollection = (db: Db) => db.collection<AttachmentDoc>(attachmentsCollection);

export const attachmentIndexes: IndexDeclaration[] = [{
  collection: attachmentsCollection,
  indexes: [
    { key: { status: 1, createdAt: 1 }, name: 'status_created' },
    // The per-user quota on pending uploads counts a user's pending ones.
    { key: { uploaderId: 1, status: 1 }, name: 'uploader_status' },
    // Retention finds the attachments of the messages it deletes.
    { key: { messageId: 1 }, name: 'message', sparse: true },
  ],
}];

/** Index for the orphan cleanup scan; lookups by id use the unique _id. */
export async function ensureAttachmentIndexes(db: Db): Promise<void> {
  await createDeclaredIndexes(db, attachmentIndexes);
}

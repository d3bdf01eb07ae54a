import { randomBytes } from 'node:crypto';
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { ObjectId } from 'mongodb';
import { z } from 'zod';
import { AppError } from '../errors';
import { parseInput } from '../chat/validation';
import type { Store } from '../store/mongo-store';
import { conversationIdOrNotFound, requireMembership } from '../chat/access';
import { conversationsRepository } from '../store/conversations-repository';
import { membershipsRepository } from '../store/memberships-repository';
import { attachmentDownloadPath } from '../chat/views';
import { attachmentCollection, type AttachmentDoc } from './attachment-store';

export interface AttachmentOptions {
  bucket: string;
  /** Lifetime of a presigned PUT URL, seconds. */
  uploadUrlExpiresS: number;
  /** Lifetime of a presigned GET URL, seconds (issued per read, after a membership check). */
  downloadUrlExpiresS?: number;
  maxBytes: number;
  /** Allowed content types; `type/*` allows a whole family. */
  allowedTypes: string[];
  /** Most attachments on one message. */
  maxPerMessage: number;
  /** Most uploads one user may have pending (issued, not yet on a message); unlimited when absent. */
  maxPendingPerUser?: number;
}

export interface AttachmentMetrics {
  /** chat_attachments_total{outcome}: presigned | attached | rejected */
  attachments: { inc(labels: { outcome: string }, value?: number): void };
}

/** What a message stores and returns for each attachment. */
// The stored shape lives with the documents (store/ imports nothing from media/); re-exported for callers.
export type { AttachmentRef } from '../store/documents';
import type { AttachmentRef } from '../store/documents';

/** GET /api/conversations/:id/attachments/:attachmentId: fetch `url` before `expiresAt`. */
export interface AttachmentDownload {
  url: string;
  expiresAt: string;
}

export interface UploadTicket {
  attachmentId: string;
  key: string;
  method: 'PUT';
  uploadUrl: string;
  /**
   * Headers the PUT must carry exactly: all are part of the signature. `if-none-match: *` makes the
   * upload create-only: once the object exists, the same URL cannot replace it (412), so a message's
   * file cannot be swapped after the message is sent.
   */
  headers: { 'content-type': string; 'content-length': string; 'if-none-match': '*' };
  expiresAt: string;
  /**
   * Where a member asks for a read once the file is on a message (presigned GET, short TTL). The
   * bucket is private and there is no public object URL: a link must not outlive membership.
   */
  downloadPath: string;
}

const contentTypePattern = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/;

export const createUploadSchema = z
  .object({
    filename: z.string().trim().min(1, 'filename is required').max(255),
    contentType: z.string().trim().toLowerCase().regex(contentTypePattern, 'contentType must be a MIME type such as image/png'),
    size: z.number().int().min(1, 'size must be at least 1 byte'),
  })
  .strict();

export const attachmentIdsSchema = z.array(z.string().regex(/^[A-Za-z0-9_-]{22}$/, 'unknown attachment id'));

/** Keeps letters, digits, dot, dash and underscore; never empty, never a dot file, at most 100 characters. */
export function sanitizeFilename(filename: string): string {
  const base = filename.split(/[\\/]/).pop() ?? '';
  const cleaned = base.normalize('NFKD').replace(/[\u0300-\u036f]/g, '').replace(/[^A-Za-z0-9._-]+/g, '_').replace(/_+/g, '_').replace(/^[._]+/, '');
  const trimmed = cleaned.length > 100 ? cleaned.slice(cleaned.length - 100).replace(/^[._]+/, '') : cleaned;
  return trimmed || 'file';
}

/**
 * Types a browser runs as a document (scripts inside SVG or HTML) when opened from the bucket or CDN
 * origin: refused whatever ATTACHMENT_ALLOWED_TYPES says (`image/*` would otherwise admit SVG).
 */
export const activeContentTypes: readonly string[] = ['image/svg+xml', 'text/html', 'application/xhtml+xml', 'text/xml', 'application/xml', 'text/javascript', 'application/javascript'];

export function typeAllowed(contentType: string, allowed: string[]): boolean {
  if (activeContentTypes.includes(contentType)) return false;
  return allowed.some((a) => (a.endsWith('/*') ? contentType.startsWith(a.slice(0, -1)) : contentType === a));
}

export function createAttachmentService(deps: {
  store: Pick<Store, 'db' | 'conversations' | 'memberships' | 'membershipRemovals'>;
  s3: S3Client;
  options: AttachmentOptions;
  metrics?: AttachmentMetrics;
  now?: () => Date;
}) {
  const { store, s3, options } = deps;
  const now = deps.now ?? (() => new Date());
  const attachments = attachmentCollection(store.db);
  const count = (outcome: string, n = 1) => deps.metrics?.attachments.inc({ outcome }, n);

  const repositories = { conversations: conversationsRepository(store), memberships: membershipsRepository(store) };
  /** 404 when the conversation does not exist (or the id is malformed), 403 when the user is not a member. */
  async function requireMember(userId: string, conversationId: string): Promise<ObjectId> {
    const id = conversationIdOrNotFound(conversationId);
    await requireMembership(repositories, id, userId);
    return id;
  }

  const refOf = (doc: AttachmentDoc): AttachmentRef => ({ id: doc._id, filename: doc.filename, contentType: doc.contentType, size: doc.size });

  return {
    /** POST /api/conversations/:id/attachments: a presigned PUT for one file. */
    async createUpload(userId: string, conversationId: string, body: unknown): Promise<UploadTicket> {
      const input = parseInput(createUploadSchema, body);
      const convId = await requireMember(userId, conversationId);
      const conversation = await store.conversations.findOne({ _id: convId }, { projection: { archivedAt: 1 } });
      if (conversation?.archivedAt) throw new AppError('conflict', 'This conversation is archived; it accepts no new attachments.', { reason: 'archived' });
      if (input.size > options.maxBytes) {
        count('rejected');
        throw new AppError('payload_too_large', `The file is ${input.size} bytes; the largest attachment is ${options.maxBytes} bytes.`);
      }
      if (!typeAllowed(input.contentType, options.allowedTypes)) {
        count('rejected');
        throw new AppError('unsupported_media_type', `Attachments of type ${input.contentType} are not accepted; allowed: ${options.allowedTypes.join(', ')}.`);
      }
      if (options.maxPendingPerUser !== undefined) {
        const pending = await attachments.countDocuments({ uploaderId: userId, status: 'pending' });
        if (pending >= options.maxPendingPerUser) {
          count('rejected');
          throw new AppError('conflict', `You have ${pending} uploads not yet sent on a message; the most is ${options.maxPendingPerUser}. Send or wait for them to expire.`, { reason: 'pending_uploads_limit' });
        }
      }
      const id = randomBytes(16).toString('base64url');
      const key = `conversations/${convId.toHexString()}/${randomBytes(16).toString('hex')}/${sanitizeFilename(input.filename)}`;
      const createdAt = now();
      const doc: AttachmentDoc = {
        _id: id, conversationId: convId, uploaderId: userId, key, filename: input.filename, contentType: input.contentType,
        size: input.size, status: 'pending', createdAt, uploadedAt: null, messageId: null, attachedAt: null,
      };
      await attachments.insertOne(doc);
      const command = new PutObjectCommand({ Bucket: options.bucket, Key: key, ContentType: input.contentType, ContentLength: input.size, IfNoneMatch: '*' });
      const uploadUrl = await getSignedUrl(s3, command, {
        expiresIn: options.uploadUrlExpiresS,
        signableHeaders: new Set(['content-type', 'content-length', 'if-none-match']),
      });
      count('presigned');
      return {
        attachmentId: id,
        key,
        method: 'PUT',
        uploadUrl,
        headers: { 'content-type': input.contentType, 'content-length': String(input.size), 'if-none-match': '*' },
        expiresAt: new Date(createdAt.getTime() + options.uploadUrlExpiresS * 1000).toISOString(),
        downloadPath: attachmentDownloadPath(convId.toHexString(), id),
      };
    },

    /**
     * GET /api/conversations/:id/attachments/:attachmentId: a short-lived presigned GET, issued only to
     * a member of the conversation (checked against the database at issue time) for a file that is on
     * a message there. A removed member gets 403 from then on; a URL already issued lives at most
     * ATTACHMENT_DOWNLOAD_URL_TTL_S. The object is served as a download (Content-Disposition
     * attachment) unless it is an image, with nosniff semantics left to the content type we stored.
     */
    async downloadUrl(userId: string, conversationId: string, attachmentId: string): Promise<AttachmentDownload> {
      const convId = await requireMember(userId, conversationId);
      const doc = attachmentIdsSchema.element.safeParse(attachmentId).success ? await attachments.findOne({ _id: attachmentId }) : null;
      if (!doc || !doc.conversationId.equals(convId) || doc.status !== 'attached') throw new AppError('not_found', 'No such attachment in this conversation.');
      const expiresS = options.downloadUrlExpiresS ?? 60;
      const inline = doc.contentType.startsWith('image/');
      const command = new GetObjectCommand({
        Bucket: options.bucket, Key: doc.key,
        ResponseContentType: doc.contentType,
        ResponseContentDisposition: `${inline ? 'inline' : 'attachment'}; filename="${sanitizeFilename(doc.filename)}"`,
      });
      const url = await getSignedUrl(s3, command, { expiresIn: expiresS });
      return { url, expiresAt: new Date(now().getTime() + expiresS * 1000).toISOString() };
    },

    /**
     * Send path, before the message is written: the attachments must have been given to this user
     * for this conversation and be uploaded (HEAD). Records the stored size and type. The caller has
     * already checked membership. Throws 400 for unknown, foreign or not-yet-uploaded ids.
     */
    async resolveAttachments(userId: string, conversationId: string, attachmentIds: unknown): Promise<AttachmentRef[]> {
      const ids = [...new Set(parseInput(attachmentIdsSchema, attachmentIds ?? []))];
      if (ids.length === 0) return [];
      if (ids.length > options.maxPerMessage) throw new AppError('validation_failed', `A message carries at most ${options.maxPerMessage} attachments.`);
      const convId = conversationIdOrNotFound(conversationId);
      return Promise.all(ids.map(async (id) => {
        const doc = await attachments.findOne({ _id: id });
        if (!doc || !doc.conversationId.equals(convId) || doc.uploaderId !== userId || doc.status === 'deleting') {
          throw new AppError('validation_failed', `Attachment ${id} does not exist for this conversation.`, { errors: [{ path: 'attachmentIds', message: `unknown attachment ${id}` }] });
        }
        let head;
        try {
          head = await s3.send(new HeadObjectCommand({ Bucket: options.bucket, Key: doc.key }));
        } catch (error) {
          const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
          if (status === 404 || status === 403) {
            throw new AppError('validation_failed', `Attachment ${id} has not been uploaded yet.`, { errors: [{ path: 'attachmentIds', message: `attachment ${id} not uploaded` }] });
          }
          throw new AppError('unavailable', 'Object storage is unreachable; retry shortly.', { retryAfter: 5 });
        }
        const size = head.ContentLength ?? doc.size;
        const contentType = head.ContentType ?? doc.contentType;
        if (size !== doc.size || contentType !== doc.contentType) {
          await attachments.updateOne({ _id: id }, { $set: { size, contentType, uploadedAt: now() } });
        } else if (!doc.uploadedAt) {
          await attachments.updateOne({ _id: id }, { $set: { uploadedAt: now() } });
        }
        return refOf({ ...doc, size, contentType });
      }));
    },

    /** Send path, after the message is durable: the uploads are no longer orphans. Safe to repeat. */
    async markAttached(ids: string[], messageId: string): Promise<void> {
      const at = now();
      await Promise.all(ids.map((id) => attachments.updateOne({ _id: id, status: { $ne: 'deleting' } }, { $set: { status: 'attached', messageId, attachedAt: at } })));
      count('attached', ids.length);
    },

    /**
     * Retention (delete mode), before the messages go: their attachments lose object and record, so
     * files do not outlive the retention policy. Claimed first (→ deleting) like orphans; safe to repeat.
     */
    async deleteForMessages(messageIds: string[]): Promise<number> {
      if (!messageIds.length) return 0;
      const found = await attachments.find({ messageId: { $in: messageIds } }, { projection: { _id: 1, key: 1 } }).toArray();
      if (!found.length) return 0;
      await attachments.updateMany({ _id: { $in: found.map((d) => d._id) } }, { $set: { status: 'deleting' } });
      for (const doc of found) await s3.send(new DeleteObjectCommand({ Bucket: options.bucket, Key: doc.key }));
      await attachments.deleteMany({ _id: { $in: found.map((d) => d._id) }, status: 'deleting' });
      return found.length;
    },

    /**
     * Orphan cleanup: pending uploads older than `olderThanMs` lose their object and record. Each is
     * claimed first (status pending → deleting) so a concurrent send cannot attach it mid-delete.
     */
    async deleteOrphans(params: { olderThanMs: number; dryRun: boolean; limit: number; signal?: AbortSignal }): Promise<{ deleted: number; candidates: string[]; errors: string[] }> {
      const cutoff = new Date(now().getTime() - params.olderThanMs);
      // `deleting` ones are included so a run that crashed mid-delete is finished.
      const found = await attachments
        .find({ status: { $in: ['pending', 'deleting'] }, createdAt: { $lt: cutoff } }, { projection: { _id: 1, key: 1, status: 1 } })
        .limit(params.limit)
        .toArray();
      const candidates = found.map((d) => d.key);
      if (params.dryRun) return { deleted: found.length, candidates, errors: [] };
      let deleted = 0;
      const errors: string[] = [];
      for (const doc of found) {
        if (params.signal?.aborted) break;
        try {
          if (doc.status === 'pending') {
            const claimed = await attachments.updateOne({ _id: doc._id, status: 'pending' }, { $set: { status: 'deleting' } });
            if (claimed.modifiedCount !== 1) continue;
          }
          await s3.send(new DeleteObjectCommand({ Bucket: options.bucket, Key: doc.key }));
          await attachments.deleteOne({ _id: doc._id, status: 'deleting' });
          deleted += 1;
        } catch (error) {
          errors.push(`${doc._id}: ${(error as Error).message}`);
        }
      }
      return { deleted, candidates, errors };
    },
  };
}

export type AttachmentService = ReturnType<typeof createAttachmentService>;

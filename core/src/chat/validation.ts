import { z } from 'zod';
import { AppError } from '../errors';

/**
 * Input shapes shared by HTTP and Socket.IO. Every value that reaches a query is a checked scalar,
 * so operator objects such as {"$gt": ""} are refused before they get near MongoDB.
 */
export const userIdSchema = z.string().regex(/^[A-Za-z0-9_.:@-]{1,64}$/, 'user ids are 1-64 characters of A-Z a-z 0-9 _ . : @ -');
export const conversationIdSchema = z.string().max(64);
export const clientMsgIdSchema = z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'clientMsgId is 1-64 characters of A-Z a-z 0-9 _ . : -');
const seqSchema = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const createConversationSchema = z
  .object({
    type: z.enum(['group', 'direct']),
    name: z.string().trim().min(1).max(200).optional(),
    memberIds: z.array(userIdSchema).max(1000).default([]),
    visibility: z.enum(['private', 'open']).optional(),
  })
  .strict()
  .superRefine((value, ctx) => {
    if (value.type === 'group' && !value.name) ctx.addIssue({ code: 'custom', path: ['name'], message: 'name is required' });
    if (value.type === 'direct' && value.visibility) ctx.addIssue({ code: 'custom', path: ['visibility'], message: 'visibility applies to groups only' });
  });

export const addMembersSchema = z.object({ userIds: z.array(userIdSchema).min(1).max(1000) }).strict();

export const sendMessageSchema = (maxChars: number) =>
  z
    .object({
      clientMsgId: clientMsgIdSchema,
      text: z.string().max(maxChars, `text is longer than ${maxChars} characters`).default(''),
      // Checked in full (format, ownership, upload) by the attachment service.
      attachmentIds: z.array(z.string().max(64)).max(50).optional(),
    })
    .strict()
    .superRefine((value, ctx) => {
      if (!value.text && !value.attachmentIds?.length) ctx.addIssue({ code: 'custom', path: ['text'], message: 'text must not be empty' });
    });

export const historyQuerySchema = z
  .object({ beforeSeq: seqSchema.optional(), afterSeq: seqSchema.optional(), limit: z.coerce.number().int().min(1).max(100).default(50) })
  .strict()
  .refine((q) => q.beforeSeq === undefined || q.afterSeq === undefined, { message: 'use beforeSeq or afterSeq, not both' });

export const listQuerySchema = z.object({ cursor: z.string().max(200).optional(), limit: z.coerce.number().int().min(1).max(100).default(20) }).strict();

export const searchQuerySchema = z.object({ q: z.string().trim().min(1, 'q is required').max(200), limit: z.coerce.number().int().min(1).max(50).default(20) }).strict();

export const markReadSchema = z.object({ seq: seqSchema }).strict();

export const conversationRefSchema = z.object({ conversationId: conversationIdSchema }).strict();
// A JWT is three base64url parts; 8 KiB is far above any real one.
export const renewTokenSchema = z.object({ token: z.string().min(1).max(8192) }).strict();
export const socketMarkReadSchema = markReadSchema.extend({ conversationId: conversationIdSchema });

/** Parses or throws the one 400 error shape, listing every problem with its path. */
export function parseInput<T extends z.ZodType>(schema: T, input: unknown): z.output<T> {
  const result = schema.safeParse(input ?? {});
  if (result.success) return result.data;
  const errors = result.error.issues.map((issue) => ({ path: issue.path.join('.') || '(body)', message: issue.message }));
  const detail = errors.map((e) => (e.path === '(body)' || e.message.startsWith(e.path) ? e.message : `${e.path}: ${e.message}`)).join('; ');
  throw new AppError('validation_failed', detail, { errors });
}

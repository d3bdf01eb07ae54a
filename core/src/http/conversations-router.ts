import { Router } from 'express';
import { parseConversationIdOrNotFound } from '../chat/access';
import type { ChatService } from '../chat/chat-service';
import { AppError } from '../errors';
import type { AttachmentService } from '../media/attachment-service';
import type { Metrics } from '../telemetry/metrics';
import { principalOf } from './request-context';

/** Routes only read the request, delegate to the chat service and pick the status code. */
export function conversationsRouter(chat: ChatService, metrics: Metrics, attachments?: Pick<AttachmentService, 'createUpload' | 'downloadUrl'>): Router {
  const router = Router();
  const userOf = (res: Parameters<typeof principalOf>[0]) => principalOf(res).userId;
  // The one place an HTTP path's id is read: canonical from here on (a malformed id answers 404).
  const idOf = (req: { params: { id?: string } }) => parseConversationIdOrNotFound(req.params.id);

  router.post('/conversations', async (req, res) => {
    const { conversation, created } = await chat.conversations.create(userOf(res), req.body);
    res.status(created ? 201 : 200).json(conversation);
  });
  router.get('/conversations', async (req, res) => {
    res.json(await chat.conversations.list(userOf(res), req.query));
  });
  router.get('/conversations/:id', async (req, res) => {
    res.json(await chat.conversations.get(userOf(res), idOf(req)));
  });
  router.post('/conversations/:id/join', async (req, res) => {
    res.json(await chat.conversations.join(userOf(res), idOf(req)));
  });
  router.post('/conversations/:id/members', async (req, res) => {
    res.json(await chat.conversations.addMembers(userOf(res), idOf(req), req.body));
  });
  router.delete('/conversations/:id/members/:userId', async (req, res) => {
    await chat.conversations.removeMember(userOf(res), idOf(req), req.params.userId);
    res.status(204).end();
  });
  router.post('/conversations/:id/leave', async (req, res) => {
    await chat.conversations.leave(userOf(res), idOf(req));
    res.status(204).end();
  });
  router.post('/conversations/:id/archive', async (req, res) => {
    res.json(await chat.conversations.archive(userOf(res), idOf(req)));
  });
  router.post('/conversations/:id/messages', async (req, res) => {
    const { message, created } = await chat.messages.send(userOf(res), idOf(req), req.body);
    metrics.messages.inc({ transport: 'http', outcome: created ? 'created' : 'duplicate' });
    res.status(created ? 201 : 200).json(message);
  });
  router.get('/conversations/:id/messages', async (req, res) => {
    res.json(await chat.messages.history(userOf(res), idOf(req), req.query));
  });
  router.get('/conversations/:id/search', async (req, res) => {
    res.json(await chat.messages.search(userOf(res), idOf(req), req.query));
  });
  router.post('/conversations/:id/attachments', async (req, res) => {
    if (!attachments) throw new AppError('unavailable', 'Attachments are not configured on this server (S3_BUCKET).');
    res.status(201).json(await attachments.createUpload(userOf(res), idOf(req), req.body));
  });
  router.get('/conversations/:id/attachments/:attachmentId', async (req, res) => {
    if (!attachments) throw new AppError('unavailable', 'Attachments are not configured on this server (S3_BUCKET).');
    res.setHeader('cache-control', 'private, no-store');
    res.json(await attachments.downloadUrl(userOf(res), idOf(req), req.params.attachmentId));
  });
  router.post('/conversations/:id/read', async (req, res) => {
    res.json(await chat.messages.markRead(userOf(res), idOf(req), req.body));
  });
  return router;
}

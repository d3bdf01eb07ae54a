/**
 * OpenAPI 3.1 description of the REST API, served at /api/openapi.json. A test compares its paths
 * with the routes Express really has, and schemathesis checks live responses against it.
 */
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: object) => ({ 'application/json': { schema } });
const problem = (description: string) => ({ description, content: { 'application/problem+json': { schema: ref('Problem') } } });
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string', maxLength: 64 }, description: 'Conversation id (24 hex characters, any case; responses carry it in lower case).' };
const common = {
  '400': problem('Invalid input; `errors` lists each problem.'),
  '401': problem('Missing, expired or invalid bearer token.'),
  '429': problem('Rate limited; see Retry-After.'),
  '503': problem('Maintenance or a dependency is down; see Retry-After.'),
};
const member = { ...common, '403': problem('Not a member of this conversation.'), '404': problem('No such conversation (unknown or malformed id).') };

const seq = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER };

/** Links from a created conversation to the operations that take its id (used by stateful API testing). */
const byId = (operationId: string) => ({ operationId, parameters: { id: '$response.body#/id' } });
const conversationLinks = {
  GetConversation: byId('getConversation'),
  JoinConversation: byId('joinConversation'),
  AddMembers: byId('addMembers'),
  LeaveConversation: byId('leaveConversation'),
  ArchiveConversation: byId('archiveConversation'),
  SendMessage: byId('sendMessage'),
  ListMessages: byId('listMessages'),
  SearchMessages: byId('searchMessages'),
  CreateUpload: byId('createUpload'),
  MarkRead: byId('markRead'),
};

export const openApiDocument = {
  openapi: '3.1.0',
  info: { title: 'Switchboard chat core', version: '1.0.0', description: 'Conversations, membership, messages with keyset history, idempotent sends, read state and search. Real-time events are on Socket.IO at the same origin.' },
  servers: [{ url: '/' }],
  security: [{ bearer: [] }],
  paths: {
    '/api/conversations': {
      post: {
        operationId: 'createConversation',
        summary: 'Create a group (private unless visibility is open), or get-or-create the direct conversation with one other user (reopening it if archived).',
        requestBody: { required: true, content: json(ref('CreateConversation')) },
        responses: { '201': { description: 'Created.', content: json(ref('Conversation')), links: conversationLinks }, '200': { description: 'The existing direct conversation.', content: json(ref('Conversation')), links: conversationLinks }, ...common, '413': problem('Body too large.'), '415': problem('Body is not JSON.') },
      },
      get: {
        operationId: 'listConversations',
        summary: 'My conversations, most recent activity first, with unread counts.',
        parameters: [
          { name: 'cursor', in: 'query', schema: { type: 'string', maxLength: 200 } },
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 100, default: 20 } },
        ],
        responses: { '200': { description: 'A page.', content: json({ type: 'object', required: ['items', 'nextCursor'], properties: { items: { type: 'array', items: ref('Conversation') }, nextCursor: { type: ['string', 'null'] } } }) }, ...common },
      },
    },
    '/api/conversations/{id}': {
      get: { operationId: 'getConversation', summary: 'One conversation with its members (members only).', parameters: [idParam], responses: { '200': { description: 'The conversation.', content: json(ref('Conversation')) }, ...member } },
    },
    '/api/conversations/{id}/join': {
      post: { operationId: 'joinConversation', summary: 'Join an open group by id (private groups: an owner adds members).', parameters: [idParam], responses: { '200': { description: 'Joined.', content: json(ref('Conversation')) }, ...common, '403': problem('A private group (reason private_group), or a direct conversation.'), '404': member['404'], '409': problem('Already a member, or archived.') } },
    },
    '/api/conversations/{id}/members': {
      post: {
        operationId: 'addMembers',
        summary: 'Add members to a group (owners only); members already in it are left as they are.',
        parameters: [idParam],
        requestBody: { required: true, content: json({ type: 'object', required: ['userIds'], additionalProperties: false, properties: { userIds: { type: 'array', minItems: 1, maxItems: 1000, items: { type: 'string', pattern: '^[A-Za-z0-9_.:@-]{1,64}$' } } } }) },
        responses: { '200': { description: 'The group with its members.', content: json(ref('Conversation')) }, ...member, '403': problem('Not an owner of this group, not a member, or a direct conversation.'), '409': problem('The group is archived.'), '413': problem('Body too large.'), '415': problem('Body is not JSON.') },
      },
    },
    '/api/conversations/{id}/members/{userId}': {
      delete: {
        operationId: 'removeMember',
        summary: 'Remove a member from a group (owners; anyone may remove themselves): delivery to them stops on every instance.',
        parameters: [idParam, { name: 'userId', in: 'path', required: true, schema: { type: 'string', maxLength: 64 } }],
        responses: { '204': { description: 'Removed.' }, ...member, '403': problem('Not an owner of this group, not a member, or a direct conversation.'), '404': problem('No such conversation, or that user is not a member.') },
      },
    },
    '/api/conversations/{id}/leave': {
      post: { operationId: 'leaveConversation', summary: 'Leave a group: delivery stops on every instance. The last owner hands ownership to the longest-standing member; the last member archives the group.', parameters: [idParam], responses: { '204': { description: 'Left.' }, ...member, '409': problem('Direct conversations cannot be left.') } },
    },
    '/api/conversations/{id}/archive': {
      post: { operationId: 'archiveConversation', summary: 'Archive (owners); archived conversations accept no new messages.', parameters: [idParam], responses: { '200': { description: 'Archived.', content: json(ref('Conversation')) }, ...member } },
    },
    '/api/conversations/{id}/messages': {
      post: {
        operationId: 'sendMessage',
        summary: 'Send a message; acknowledged only once durable. The same clientMsgId returns the original.',
        parameters: [idParam],
        requestBody: { required: true, content: json(ref('SendMessage')) },
        responses: { '201': { description: 'Stored.', content: json(ref('Message')) }, '200': { description: 'A retry: the original message.', content: json(ref('Message')) }, ...member, '409': problem('Archived, or clientMsgId used in another conversation.'), '413': problem('Body too large.'), '415': problem('Body is not JSON.') },
      },
      get: {
        operationId: 'listMessages',
        summary: 'History in seq order by keyset: the newest page, beforeSeq (older) or afterSeq (gap repair).',
        parameters: [
          idParam,
          { name: 'beforeSeq', in: 'query', schema: seq },
          { name: 'afterSeq', in: 'query', schema: seq },
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 100, default: 50 } },
        ],
        responses: { '200': { description: 'A page.', content: json({ type: 'object', required: ['items', 'nextCursor', 'skipped', 'settledSeq', 'lastSeq'], properties: { items: { type: 'array', items: ref('Message') }, nextCursor: { type: ['integer', 'null'], description: 'Pass as beforeSeq (or afterSeq when paging forward).' }, skipped: { type: 'array', items: { type: 'integer' }, description: 'Burned seqs (never to be stored) in the range this page covers.' }, settledSeq: { type: 'integer', description: 'Every seq up to this one is stored or burned; missing seqs above it are "not yet" (README "Skipped seqs").' }, lastSeq: { type: 'integer', description: 'Highest seq reserved so far.' } } }) }, ...member },
      },
    },
    '/api/conversations/{id}/search': {
      get: {
        operationId: 'searchMessages',
        summary: 'Messages containing every word of q, newest first, with highlighted fragments.',
        parameters: [idParam, { name: 'q', in: 'query', required: true, schema: { type: 'string', minLength: 1, maxLength: 200 } }, { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 50, default: 20 } }],
        responses: { '200': { description: 'Matches.', content: json({ type: 'object', required: ['items'], properties: { items: { type: 'array', items: ref('SearchHit') } } }) }, ...member },
      },
    },
    '/api/conversations/{id}/attachments/{attachmentId}': {
      get: {
        operationId: 'downloadAttachment',
        summary: 'The only way to read an attachment: a short-lived presigned GET for a file on a message in this conversation (members only, checked at issue time; the bucket is private).',
        parameters: [idParam, { name: 'attachmentId', in: 'path', required: true, schema: { type: 'string' } }],
        responses: {
          '200': { description: 'Fetch url before expiresAt (ATTACHMENT_DOWNLOAD_URL_TTL_S).', content: json({ type: 'object', required: ['url', 'expiresAt'], properties: { url: { type: 'string' }, expiresAt: { type: 'string', format: 'date-time' } } }) },
          ...member,
        },
      },
    },
    '/api/conversations/{id}/attachments': {
      post: {
        operationId: 'createUpload',
        summary: 'A presigned S3 PUT for one file (members only); reference the returned attachmentId in a message.',
        parameters: [idParam],
        requestBody: { required: true, content: json(ref('CreateUpload')) },
        responses: {
          '201': { description: 'Upload ticket: PUT the file to uploadUrl with exactly these headers before expiresAt.', content: json(ref('UploadTicket')) },
          ...member,
          '409': problem('The conversation is archived.'),
          '413': problem('File larger than ATTACHMENT_MAX_BYTES, or body too large.'),
          '415': problem('Content type not accepted, or body is not JSON.'),
        },
      },
    },
    '/api/conversations/{id}/read': {
      post: {
        operationId: 'markRead',
        summary: 'Move my read position forward (never back).',
        parameters: [idParam],
        requestBody: { required: true, content: json({ type: 'object', required: ['seq'], additionalProperties: false, properties: { seq } }) },
        responses: { '200': { description: 'The stored read position.', content: json({ type: 'object', required: ['conversationId', 'lastReadSeq'], properties: { conversationId: { type: 'string' }, lastReadSeq: { type: 'integer' } } }) }, ...member, '413': problem('Body too large.'), '415': problem('Body is not JSON.') },
      },
    },
  },
  components: {
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
    schemas: {
      CreateConversation: {
        type: 'object',
        additionalProperties: false,
        required: ['type'],
        properties: { type: { enum: ['group', 'direct'] }, name: { type: 'string', minLength: 1, maxLength: 200, description: 'Required for groups.' }, visibility: { enum: ['private', 'open'], default: 'private', description: 'Groups only: open groups can be joined by id; private ones only by an owner adding members.' }, memberIds: { type: 'array', maxItems: 1000, items: { type: 'string', pattern: '^[A-Za-z0-9_.:@-]{1,64}$' } } },
      },
      SendMessage: {
        type: 'object',
        additionalProperties: false,
        required: ['clientMsgId', 'text'],
        properties: {
          clientMsgId: { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,64}$' },
          text: { type: 'string', minLength: 1, maxLength: 4000, description: 'May be empty only when attachmentIds is not.' },
          attachmentIds: { type: 'array', maxItems: 50, items: { type: 'string', maxLength: 64 } },
        },
      },
      CreateUpload: {
        type: 'object',
        additionalProperties: false,
        required: ['filename', 'contentType', 'size'],
        properties: { filename: { type: 'string', minLength: 1, maxLength: 255 }, contentType: { type: 'string', maxLength: 255 }, size: { type: 'integer', minimum: 1 } },
      },
      UploadTicket: {
        type: 'object',
        required: ['attachmentId', 'key', 'method', 'uploadUrl', 'headers', 'expiresAt', 'downloadPath'],
        properties: {
          attachmentId: { type: 'string' },
          key: { type: 'string' },
          method: { const: 'PUT' },
          uploadUrl: { type: 'string' },
          headers: { type: 'object', required: ['content-type', 'content-length', 'if-none-match'], properties: { 'content-type': { type: 'string' }, 'content-length': { type: 'string' }, 'if-none-match': { type: 'string', const: '*', description: 'Create-only: the URL cannot replace an object that exists (412).' } } },
          expiresAt: { type: 'string', format: 'date-time' },
          downloadPath: { type: 'string', description: 'Once the file is on a message: GET this path (downloadAttachment) for a short-lived presigned URL. There is no public object URL.' },
        },
      },
      Attachment: {
        type: 'object',
        required: ['id', 'filename', 'contentType', 'size', 'downloadPath'],
        description: 'No readable URL: a member GETs downloadPath (downloadAttachment) for a presigned URL valid ATTACHMENT_DOWNLOAD_URL_TTL_S, and asks again once it has expired.',
        properties: { id: { type: 'string' }, filename: { type: 'string' }, contentType: { type: 'string' }, size: { type: 'integer' }, downloadPath: { type: 'string', description: '/api/conversations/{id}/attachments/{attachmentId}' } },
      },
      Member: { type: 'object', required: ['userId', 'role', 'joinedAt'], properties: { userId: { type: 'string' }, role: { enum: ['owner', 'member'] }, joinedAt: { type: 'string', format: 'date-time' } } },
      Conversation: {
        type: 'object',
        required: ['id', 'type', 'name', 'createdBy', 'createdAt', 'lastSeq', 'lastMessageAt', 'archivedAt'],
        properties: {
          id: { type: 'string' },
          type: { enum: ['group', 'direct'] },
          name: { type: ['string', 'null'] },
          visibility: { enum: ['private', 'open'], description: 'Groups only.' },
          createdBy: { type: 'string' },
          createdAt: { type: 'string', format: 'date-time' },
          lastSeq: { type: 'integer' },
          lastMessageAt: { type: ['string', 'null'], format: 'date-time' },
          archivedAt: { type: ['string', 'null'], format: 'date-time' },
          members: { type: 'array', items: ref('Member') },
          unreadCount: { type: 'integer', minimum: 0, description: 'Seqs above lastReadSeq that are not burned (burned seqs, reported as skipped in history, were never messages).' },
          lastReadSeq: { type: 'integer', minimum: 0 },
        },
      },
      Message: {
        type: 'object',
        required: ['id', 'conversationId', 'seq', 'senderId', 'clientMsgId', 'text', 'createdAt'],
        properties: { id: { type: 'string' }, conversationId: { type: 'string' }, seq: { type: 'integer', minimum: 1 }, senderId: { type: 'string' }, clientMsgId: { type: 'string' }, text: { type: 'string' }, createdAt: { type: 'string', format: 'date-time' }, attachments: { type: 'array', items: ref('Attachment') } },
      },
      SearchHit: {
        allOf: [ref('Message'), { type: 'object', required: ['fragments'], properties: { fragments: { type: 'array', items: { type: 'object', required: ['text', 'highlights'], properties: { text: { type: 'string' }, highlights: { type: 'array', items: { type: 'object', required: ['start', 'end'], properties: { start: { type: 'integer' }, end: { type: 'integer' } } } } } } } } }],
      },
      Problem: {
        type: 'object',
        required: ['type', 'title', 'status', 'code', 'detail'],
        properties: {
          type: { type: 'string' },
          title: { type: 'string' },
          status: { type: 'integer' },
          code: { enum: ['validation_failed', 'unauthorized', 'forbidden', 'not_found', 'conflict', 'payload_too_large', 'unsupported_media_type', 'rate_limited', 'internal', 'maintenance', 'unavailable'] },
          detail: { type: 'string' },
          errors: { type: 'array', items: { type: 'object', required: ['path', 'message'], properties: { path: { type: 'string' }, message: { type: 'string' } } } },
          retryAfter: { type: 'integer' },
          reason: { type: 'string' },
          requestId: { type: 'string' },
        },
      },
    },
  },
} as const;

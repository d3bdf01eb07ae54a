import cors from 'cors';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import helmet from 'helmet';
import type { TokenVerifier } from '../auth/tokens';
import type { ChatService } from '../chat/chat-service';
import type { AttachmentService } from '../media/attachment-service';
import { AppError } from '../errors';
import type { RateLimits } from '../limits/rate-limits';
import type { Maintenance } from '../maintenance';
import type { Logger } from '../telemetry/logger';
import type { Metrics } from '../telemetry/metrics';
import type { ErrorReporter } from '../telemetry/sentry';
import { apiDocsDisabled, apiDocsPath, apiDocsRouter } from './api-docs';
import { authenticate } from './auth-middleware';
import { conversationsRouter } from './conversations-router';
import { errorHandler, notFoundHandler } from './error-handler';
import { openApiDocument } from './openapi';
import { requestContext } from './request-context';
import { webClientPath, webClientRouter } from './web-client';

export interface HttpDeps {
  chat: ChatService;
  attachments?: Pick<AttachmentService, 'createUpload' | 'downloadUrl'>;
  verify: TokenVerifier;
  limits: RateLimits;
  maintenance: Maintenance;
  metrics: Metrics;
  logger: Logger;
  reporter: ErrorReporter;
  corsOrigins: string[];
  bodyLimitBytes: number;
  /** The built reference web client, served at /app/ when set (WEB_CLIENT_DIR). */
  webClientDir?: string;
  /** Origin of presigned object-storage URLs (attachments): the web client may PUT to it and show images from it. */
  storageOrigin?: string | undefined;
  /** Serve the browsable API docs at /api/docs (API_DOCS); false answers 404 there. */
  apiDocs: boolean;
  inFlight: { begin(): void; end(): void };
  health(): object;
  readiness(): Promise<{ ready: boolean; body: object }>;
}

function requireJsonBody(req: Request, _res: Response, next: NextFunction): void {
  const hasBody = Number(req.header('content-length') ?? 0) > 0 || req.header('transfer-encoding') !== undefined;
  if (hasBody && !req.is('application/json')) throw new AppError('unsupported_media_type', 'Send the body as application/json.');
  next();
}

export function createHttpApp(deps: HttpDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback, uniquelocal');
  app.use(requestContext(deps.logger, deps.metrics));
  app.use((_req, res, next) => {
    deps.inFlight.begin();
    res.once('close', () => deps.inFlight.end());
    next();
  });
  app.use(helmet());

  // Public liveness and readiness say only what a load balancer and a deploy need (status, instance,
  // version, draining, maintenance; ready and what is down). Details and /metrics are on the internal listener.
  app.get('/health', (_req, res) => {
    res.json(deps.health());
  });
  app.get('/ready', async (_req, res) => {
    const { ready, body } = await deps.readiness();
    const down = (body as { down?: string[] }).down;
    res.status(ready ? 200 : 503).json({ ready, ...(down ? { down } : {}) });
  });

  // Before the API router: the page and its files need no token, no JSON body and their own CSP.
  app.use(apiDocsPath, deps.apiDocs ? apiDocsRouter() : apiDocsDisabled());

  const api = express.Router();
  api.use(cors({ origin: deps.corsOrigins.length ? deps.corsOrigins : false, maxAge: 600 }));
  api.use((_req, _res, next) => {
    deps.maintenance.assertOpen();
    next();
  });
  api.get('/openapi.json', (_req, res) => {
    res.json(openApiDocument);
  });
  api.use(requireJsonBody);
  api.use(express.json({ limit: deps.bodyLimitBytes, strict: true }));
  api.use(authenticate(deps.verify, deps.limits));
  api.use(conversationsRouter(deps.chat, deps.metrics, deps.attachments));
  app.use('/api', api);

  // `/` leads somewhere useful: the reference web client when served, else the API docs, else 404.
  if (deps.webClientDir) {
    app.use('/app', webClientRouter(deps.webClientDir, { storageOrigin: deps.storageOrigin }));
    app.get('/', (_req, res) => res.redirect(302, webClientPath));
  } else if (deps.apiDocs) {
    app.get('/', (_req, res) => res.redirect(302, apiDocsPath));
  }

  app.use(notFoundHandler);
  app.use(errorHandler(deps.reporter));
  return app;
}

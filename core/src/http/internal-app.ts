import express, { type Express, type Request } from 'express';
import { userIdSchema } from '../chat/validation';
import { AppError } from '../errors';
import type { RevocationOutcome } from '../realtime/session-revocation';
import type { Metrics } from '../telemetry/metrics';
import { errorHandler, notFoundHandler } from './error-handler';
import type { ErrorReporter } from '../telemetry/sentry';

export interface InternalDeps {
  metrics: Metrics;
  reporter: ErrorReporter;
  /** Everything /health knows (instance, uptime, sockets): for operators, not for the internet. */
  healthDetails(): object;
  /** Readiness with each dependency's error text. */
  readiness(): Promise<{ ready: boolean; body: object }>;
  /** Ends every session of a user: recorded durably, then confirmed by every live instance (or the deadline). */
  endSessions(userId: string): Promise<RevocationOutcome>;
}

const loopback = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);
const fromLoopback = (req: Request) => loopback.has(req.socket.remoteAddress ?? '');

/**
 * The internal listener (METRICS_HOST:METRICS_PORT): Prometheus scrapes /metrics here, operators read
 * the detailed /health and /ready. It never shares a port with the public API, so no edge needs a
 * path rule to hide it. Admin actions answer only from this machine (in Kubernetes: `kubectl
 * port-forward`), even when the listener is on the pod network for Prometheus.
 */
export function createInternalApp(deps: InternalDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/metrics', async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
  app.get('/health', (_req, res) => {
    res.json(deps.healthDetails());
  });
  app.get('/ready', async (_req, res) => {
    const { ready, body } = await deps.readiness();
    res.status(ready ? 200 : 503).json(body);
  });
  /**
   * Ends a user's sessions: recorded in the database first (every token of the user issued at or
   * before `sessionsEndedAt` is refused from then on, on every instance and every path), then every
   * live instance ends its sockets of the user and confirms. 200: all confirmed before the answer.
   * 202: recorded, but `unconfirmedInstances` did not confirm within the deadline (their sockets
   * end at their next check: a sweep within about a second, any event, their adapter's reconnect).
   * 503: not recorded (the database is unavailable): retry.
   */
  app.post('/admin/users/:userId/end-sessions', async (req, res) => {
    if (!fromLoopback(req)) throw new AppError('forbidden', 'Admin actions are accepted from loopback only.');
    const userId = userIdSchema.safeParse(req.params.userId);
    if (!userId.success) throw new AppError('validation_failed', 'not a valid user id', { errors: [{ path: 'userId', message: userId.error.issues[0]?.message ?? 'invalid' }] });
    const outcome = await deps.endSessions(userId.data);
    res.status(outcome.complete ? 200 : 202).json(outcome);
  });
  app.use(notFoundHandler);
  app.use(errorHandler(deps.reporter));
  return app;
}

import express, { type Express, type Request } from 'express';
import { userIdSchema } from '../chat/validation';
import { AppError } from '../errors';
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
  /** Ends every socket of a user on every instance (the operator's revocation hook). */
  endSessions(userId: string): void;
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
  app.post('/admin/users/:userId/end-sessions', (req, res) => {
    if (!fromLoopback(req)) throw new AppError('forbidden', 'Admin actions are accepted from loopback only.');
    const userId = userIdSchema.safeParse(req.params.userId);
    if (!userId.success) throw new AppError('validation_failed', 'not a valid user id', { errors: [{ path: 'userId', message: userId.error.issues[0]?.message ?? 'invalid' }] });
    deps.endSessions(userId.data);
    res.status(202).json({ userId: userId.data, ended: 'every socket of this user, on every instance' });
  });
  app.use(notFoundHandler);
  app.use(errorHandler(deps.reporter));
  return app;
}

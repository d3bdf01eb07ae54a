import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Principal } from '../auth/tokens';
import type { Logger } from '../telemetry/logger';
import type { Metrics } from '../telemetry/metrics';

export interface RequestLocals {
  requestId: string;
  principal?: Principal;
  log: Logger;
}

export const locals = (res: Response): RequestLocals => res.locals as RequestLocals;

export function principalOf(res: Response): Principal {
  const principal = locals(res).principal;
  if (!principal) throw new Error('route mounted without authentication');
  return principal;
}

const requestIdPattern = /^[A-Za-z0-9._-]{8,128}$/;

/** Request id (kept from X-Request-Id when sane), a child logger, the duration histogram and one access log line. */
export function requestContext(logger: Logger, metrics: Metrics) {
  return (req: Request, res: Response, next: NextFunction) => {
    const incoming = req.header('x-request-id');
    const requestId = incoming && requestIdPattern.test(incoming) ? incoming : randomUUID();
    res.setHeader('X-Request-Id', requestId);
    const log = logger.child({ requestId });
    res.locals.requestId = requestId;
    res.locals.log = log;
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = req.route?.path ? `${req.baseUrl}${req.route.path as string}` : 'unmatched';
      metrics.httpRequestDuration.observe({ method: req.method, route, status_code: String(res.statusCode) }, seconds);
      if (route !== '/metrics' && route !== '/health' && route !== '/ready') {
        log.info({ method: req.method, route, status: res.statusCode, ms: Math.round(seconds * 1e4) / 10, userId: locals(res).principal?.userId }, 'request');
      }
    });
    next();
  };
}

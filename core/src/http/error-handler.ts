import type { NextFunction, Request, Response } from 'express';
import { AppError, toAppError } from '../errors';
import type { ErrorReporter } from '../telemetry/sentry';
import { locals } from './request-context';

/** Turns body-parser's errors into our codes; anything else unknown becomes a logged 500. */
function classify(error: unknown): AppError {
  const e = error as { type?: string; status?: number };
  if (e?.type === 'entity.too.large') return new AppError('payload_too_large', 'The request body is too large.');
  if (e?.type === 'entity.parse.failed') return new AppError('validation_failed', 'The request body is not valid JSON.');
  if (e?.type === 'charset.unsupported' || e?.type === 'encoding.unsupported') return new AppError('unsupported_media_type', 'Unsupported body encoding.');
  return toAppError(error);
}

export function sendProblem(res: Response, error: AppError): void {
  if (error.extra.retryAfter !== undefined) res.setHeader('Retry-After', String(error.extra.retryAfter));
  if (error.status === 401) res.setHeader('WWW-Authenticate', 'Bearer');
  res.status(error.status).type('application/problem+json').json(error.toProblem(res.locals.requestId as string | undefined));
}

/** The one Express error handler: every failure leaves as application/problem+json. */
export function errorHandler(reporter: ErrorReporter) {
  return (error: unknown, req: Request, res: Response, _next: NextFunction) => {
    const appError = classify(error);
    const context = locals(res);
    if (appError.status >= 500 && appError.code === 'internal') {
      context.log?.error({ err: error, route: req.path }, 'unhandled error in request');
      reporter.capture(error, { requestId: context.requestId, route: req.route?.path as string | undefined });
    }
    if (res.headersSent) return;
    sendProblem(res, appError);
  };
}

export function notFoundHandler(_req: Request, res: Response): void {
  sendProblem(res, new AppError('not_found', 'No such route. The API is described at /api/openapi.json.'));
}

import type { NextFunction, Request, Response } from 'express';
import { AppError, type ErrorCode } from '../errors';
import { toAppError } from '../error-classifier';
import type { ErrorReporter } from '../telemetry/sentry';
import { locals } from './request-context';

/** Our codes for the client-error statuses Express and body-parser raise. */
const clientErrorCodes: Partial<Record<number, ErrorCode>> = {
  400: 'validation_failed',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
};

const clientErrorDetails: Partial<Record<string, string>> = {
  'entity.too.large': 'The request body is too large.',
  'entity.parse.failed': 'The request body is not valid JSON.',
  'entity.verify.failed': 'The request body was refused.',
  'charset.unsupported': 'Unsupported body charset.',
  'encoding.unsupported': 'Unsupported body encoding.',
  'request.aborted': 'The request body ended before its Content-Length.',
  'request.size.invalid': 'The request body does not match its Content-Length.',
};

/**
 * Turns the errors Express and body-parser raise (http-errors with a 4xx `status`, and the router's
 * URIError for an undecodable path parameter, which carries `status: 400`) into our codes, keeping
 * their 4xx status: a malformed request is the client's mistake, never a 500. Decided by `status`
 * and body-parser's `type`, never by message text. A 4xx status we have no code for becomes 400.
 * Anything else goes to toAppError (503 for an unavailable dependency, 500 otherwise).
 */
export function classifyHttpError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  const e = error as { type?: unknown; status?: unknown; statusCode?: unknown } | null;
  const status = typeof e?.status === 'number' ? e.status : typeof e?.statusCode === 'number' ? e.statusCode : undefined;
  if (status !== undefined && status >= 400 && status < 500) {
    const code = clientErrorCodes[status] ?? 'validation_failed';
    const detail = (typeof e?.type === 'string' ? clientErrorDetails[e.type] : undefined) ??
      (error instanceof URIError ? 'A path parameter is not valid percent-encoding.' : 'The request is malformed.');
    return new AppError(code, detail);
  }
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
    const appError = classifyHttpError(error);
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

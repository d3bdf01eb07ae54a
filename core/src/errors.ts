import { isMongoUnavailable } from './store/mongo-errors';

/**
 * The one error type. Every failure a client can see is an AppError with a stable `code`;
 * HTTP renders it as application/problem+json and Socket.IO acks carry the same body.
 */
export const errorCodes = {
  validation_failed: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  internal: 500,
  maintenance: 503,
  unavailable: 503,
} as const;

export type ErrorCode = keyof typeof errorCodes;

export interface FieldError {
  path: string;
  message: string;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  code: ErrorCode;
  detail: string;
  errors?: FieldError[];
  retryAfter?: number;
  requestId?: string;
}

const titles: Record<ErrorCode, string> = {
  validation_failed: 'Invalid request',
  unauthorized: 'Authentication required',
  forbidden: 'Forbidden',
  not_found: 'Not found',
  conflict: 'Conflict',
  payload_too_large: 'Payload too large',
  unsupported_media_type: 'Unsupported media type',
  rate_limited: 'Too many requests',
  internal: 'Internal error',
  maintenance: 'Down for maintenance',
  unavailable: 'Service unavailable',
};

export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly extra: { errors?: FieldError[]; retryAfter?: number; reason?: string } = {},
  ) {
    super(message);
    this.status = errorCodes[code];
  }

  toProblem(requestId?: string): Problem {
    return {
      type: `https://switchboard.dev/problems/${this.code}`,
      title: titles[this.code],
      status: this.status,
      code: this.code,
      detail: this.message,
      ...(this.extra.errors ? { errors: this.extra.errors } : {}),
      ...(this.extra.retryAfter !== undefined ? { retryAfter: this.extra.retryAfter } : {}),
      ...(this.extra.reason ? { reason: this.extra.reason } : {}),
      ...(requestId ? { requestId } : {}),
    };
  }
}

/**
 * Anything thrown that is not an AppError: an unreachable or failing database is a 503 the client
 * may retry (decided by driver class, label and code: store/mongo-errors.ts), and so is a Node
 * system error on any socket (ECONNRESET, EPIPE, ETIMEDOUT, ECONNREFUSED…: a dependency's
 * connection failed, whether MongoDB's or Redis'); everything else is an internal error whose
 * message never reaches clients.
 */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  if (isMongoUnavailable(error)) {
    return new AppError('unavailable', 'The database is unreachable; retry shortly.', { retryAfter: 5 });
  }
  return new AppError('internal', 'An unexpected error occurred; it has been logged.');
}

export const isAppError = (error: unknown): error is AppError => error instanceof AppError;

import { AppError } from './errors';
import { isMongoUnavailable } from './store/mongo-errors';
import { isRedisUnavailable } from './store/redis-errors';

// Kept apart from errors.ts so the one error shape depends on no driver: this module is where
// knowledge of failing dependencies (store/mongo-errors.ts) meets the error codes.
/**
 * Anything thrown that is not an AppError: an unreachable or failing database is a 503 the client
 * may retry (decided by driver class, label and code: store/mongo-errors.ts), and so is a Node
 * system error on any socket (ECONNRESET, EPIPE, ETIMEDOUT, ECONNREFUSED…: a dependency's
 * connection failed, whether MongoDB's or Redis'), and so is any error of ioredis' error family or
 * thrown on a Redis path (store/redis-errors.ts); everything else is an internal error whose
 * message never reaches clients.
 */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  if (isMongoUnavailable(error)) {
    return new AppError('unavailable', 'The database is unreachable; retry shortly.', { retryAfter: 5 });
  }
  if (isRedisUnavailable(error)) {
    return new AppError('unavailable', 'Shared state (Redis) is unreachable; retry shortly.', { retryAfter: 2 });
  }
  return new AppError('internal', 'An unexpected error occurred; it has been logged.');
}

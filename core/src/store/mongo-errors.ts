import {
  MongoAPIError,
  MongoBulkWriteError,
  MongoClientClosedError,
  MongoError,
  MongoErrorLabel,
  MongoNetworkError,
  MongoNotConnectedError,
  MongoOperationTimeoutError,
  MongoServerClosedError,
  MongoServerError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
  MongoWriteConcernError,
  type WriteError,
} from 'mongodb';

/**
 * Server error codes that mean "this server cannot take the write right now" (the retryable-write
 * codes of the MongoDB driver specification, plus MaxTimeMSExpired, WriteConflict and
 * WriteConcernFailed). Seen as a top-level code or on one document's write error.
 */
const transientCodes = new Set([
  6, // HostUnreachable
  7, // HostNotFound
  50, // MaxTimeMSExpired
  64, // WriteConcernFailed
  89, // NetworkTimeout
  91, // ShutdownInProgress
  112, // WriteConflict
  134, // ReadConcernMajorityNotAvailableYet
  189, // PrimarySteppedDown
  262, // ExceededTimeLimit
  9001, // SocketException
  10107, // NotWritablePrimary
  11600, // InterruptedAtShutdown
  11602, // InterruptedDueToReplStateChange
  13435, // NotPrimaryNoSecondaryOk
  13436, // NotPrimaryOrSecondary
]);

export const DUPLICATE_KEY = 11000;
/** "No such collection" and "no such index" (dropping what is already gone). */
export const NAMESPACE_NOT_FOUND = 26;
export const INDEX_NOT_FOUND = 27;

/** A bulk error's per-document write errors as a list (the driver types it as one or many). */
export const writeErrorsOf = (error: MongoBulkWriteError): readonly WriteError[] =>
  (error.writeErrors === undefined ? [] : Array.isArray(error.writeErrors) ? error.writeErrors : [error.writeErrors as WriteError]);

export const isTransientCode = (code: unknown): boolean => typeof code === 'number' && transientCodes.has(code);

/**
 * True when a driver error means the database is unreachable, slow or between primaries, so the
 * caller should answer a retryable 503. Decided by error class, label and code, never by message.
 */
export function isMongoUnavailable(error: unknown): boolean {
  if (isSystemError(error)) return true;
  if (!(error instanceof MongoError)) return false;
  if (
    error instanceof MongoNetworkError || // includes timeouts on the socket and a cleared pool
    error instanceof MongoServerSelectionError ||
    error instanceof MongoOperationTimeoutError || // timeoutMS ran out (CSOT)
    error instanceof MongoWriteConcernError ||
    error instanceof MongoNotConnectedError ||
    error instanceof MongoTopologyClosedError ||
    error instanceof MongoClientClosedError ||
    error instanceof MongoServerClosedError
  ) return true;
  // Pool checkout ran out of waitQueueTimeoutMS (an overloaded or unreachable server). Its class,
  // WaitQueueTimeoutError, is not exported by the driver, so it is told by its class's name.
  if (error.name === 'MongoWaitQueueTimeoutError') return true;
  if (error.hasErrorLabel(MongoErrorLabel.RetryableWriteError) || error.hasErrorLabel(MongoErrorLabel.TransientTransactionError) ||
    error.hasErrorLabel(MongoErrorLabel.ResetPool) || error.hasErrorLabel(MongoErrorLabel.PoolRequestedRetry)) return true;
  // A bulk write the server did not answer per document (network, top-level or write-concern
  // error wrapped by the driver): its outcome is unknown, which the client must treat as retryable.
  if (error instanceof MongoBulkWriteError && writeErrorsOf(error).length === 0) return true;
  if (isTransientCode(error.code)) return true;
  // Any other driver-side error (not an answer from the server, not a misuse of the API) is a
  // fault on the way to the database: its outcome is unknown, so it is retryable, never a 500.
  return !(error instanceof MongoServerError) && !(error instanceof MongoAPIError);
}

/**
 * Node system errors on a socket (the driver sometimes surfaces `write ECONNRESET` unwrapped):
 * told by their `code` (and `syscall`), never by message, also when wrapped as `cause`.
 */
const systemCodes = new Set([
  'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNREFUSED', 'ECONNABORTED', 'EHOSTUNREACH', 'EHOSTDOWN', 'ENETUNREACH',
  'ENETDOWN', 'ENETRESET', 'EAI_AGAIN', 'ENOTFOUND', 'EADDRNOTAVAIL', 'ERR_SOCKET_CLOSED', 'ERR_STREAM_DESTROYED',
  'ERR_STREAM_WRITE_AFTER_END', 'ERR_SOCKET_CONNECTION_TIMEOUT', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT',
]);

export function isSystemError(error: unknown, depth = 0): boolean {
  if (typeof error !== 'object' || error === null || depth > 3) return false;
  const { code, syscall, cause } = error as { code?: unknown; syscall?: unknown; cause?: unknown };
  if (typeof code === 'string' && (systemCodes.has(code) || (typeof syscall === 'string' && /^E[A-Z]+$/.test(code)))) return true;
  return isSystemError(cause, depth + 1);
}

import { MongoBulkWriteError, MongoInvalidArgumentError, MongoRuntimeError, MongoServerError } from 'mongodb';
import { ReplyError } from 'ioredis';
import { MaxRetriesPerRequestError } from 'ioredis/built/errors';
import { toAppError } from '../src/error-classifier';
import { RedisPathError } from '../src/store/redis-errors';
import { outcomesOfFailedInsert } from '../src/store/messages-repository';

/**
 * Issue 21 items 3 and 4: faults on a dependency's path answer 503 `unavailable` with Retry-After,
 * never 500 `internal`, decided by class and code (never message text).
 */
const systemError = (code: string, syscall = 'write') => Object.assign(new Error(`${syscall} ${code}`), { code, syscall, errno: -104 });

describe('fault classification', () => {
  it.each(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNREFUSED', 'EHOSTUNREACH'])('a bare Node system error %s is unavailable (503 + retryAfter)', (code) => {
    const e = toAppError(systemError(code));
    expect({ code: e.code, status: e.status, retryAfter: e.extra.retryAfter }).toEqual({ code: 'unavailable', status: 503, retryAfter: expect.any(Number) });
  });

  it('a system error wrapped as `cause` is unavailable too', () => {
    expect(toAppError(new Error('wrapped', { cause: systemError('EPIPE') })).code).toBe('unavailable');
  });

  it('an unknown driver-side error (not a server answer, not API misuse) is unavailable', () => {
    expect(toAppError(new MongoRuntimeError('pool in a bad state')).code).toBe('unavailable');
  });

  it('definite answers and bugs stay what they are: a non-transient server error, API misuse and a TypeError are internal', () => {
    expect(toAppError(new MongoServerError({ message: 'validation', code: 121 })).code).toBe('internal');
    expect(toAppError(new MongoInvalidArgumentError('bad option')).code).toBe('internal');
    expect(toAppError(new TypeError('x is undefined')).code).toBe('internal');
    // A string code that is not a system error's (no syscall, not in the list) is no fault either.
    expect(toAppError(Object.assign(new Error('x'), { code: 'ERR_INVALID_ARG_TYPE' })).code).toBe('internal');
  });
});

describe('Redis faults (ioredis error classes, and anything thrown on a Redis path)', () => {
  const unavailable = (e: unknown) => {
    const a = toAppError(e);
    return { code: a.code, status: a.status, retryAfter: a.extra.retryAfter };
  };
  const expected = { code: 'unavailable', status: 503, retryAfter: expect.any(Number) };
  it('a ReplyError (LOADING, READONLY, OOM…) is unavailable', () => {
    expect(unavailable(new ReplyError('LOADING Redis is loading the dataset in memory'))).toEqual(expected);
  });
  it('MaxRetriesPerRequestError and the AbortError family are unavailable', () => {
    const maxRetries = new MaxRetriesPerRequestError(1);
    expect(unavailable(maxRetries)).toEqual(expected);
    const AbortError = Object.getPrototypeOf(MaxRetriesPerRequestError) as new (m: string) => Error;
    expect(unavailable(new AbortError('Command aborted due to connection close'))).toEqual(expected);
  });
  it('a plain Error ioredis threw ("Connection is closed.") is unavailable once marked as on the Redis path, internal otherwise', () => {
    const plain = new Error('Connection is closed.');
    expect(unavailable(new RedisPathError(plain))).toEqual(expected);
    expect(toAppError(plain).code).toBe('internal');
  });
  it('a Node system error from the Redis socket is unavailable', () => {
    expect(unavailable(systemError('ECONNREFUSED', 'connect'))).toEqual(expected);
  });
});

describe('duplicate key with a write-concern error', () => {
  const bulkError = (writeConcernError: boolean) => {
    const result = { insertedCount: 1, getWriteConcernError: () => (writeConcernError ? { code: 64, errmsg: 'waiting for replication timed out' } : undefined) };
    return new MongoBulkWriteError({ message: 'bulk', code: 11000, writeErrors: [{ index: 1, code: 11000, errmsg: 'dup' } as any] } as any, result as any);
  };

  it('without a write-concern error the duplicate is a duplicate', () => {
    expect(outcomesOfFailedInsert(bulkError(false), 2).map((o) => o.status)).toEqual(['stored', 'duplicate']);
  });

  it('with a write-concern error nothing is known: every document is unknown (retryable), the duplicate too', () => {
    expect(outcomesOfFailedInsert(bulkError(true), 2).map((o) => o.status)).toEqual(['unknown', 'unknown']);
  });
});

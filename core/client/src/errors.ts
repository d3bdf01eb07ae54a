import type { Problem } from './protocol';

/** What an HTTP answer said besides its body: the status and the Retry-After header (null when absent). */
export interface HttpInfo {
  status: number;
  retryAfter: string | null;
}

/**
 * Every failure the client reports: `problem` is the core's problem body when the core answered;
 * `kind` says what the client does about it, decided by status/code, never by message text.
 */
export class SwitchboardError extends Error {
  constructor(
    readonly kind: 'refused' | 'transient' | 'unauthorized' | 'timeout' | 'closed',
    message: string,
    readonly problem?: Problem,
    /** Set when the error is an HTTP response. */
    readonly http?: HttpInfo,
  ) {
    super(message);
    this.name = 'SwitchboardError';
  }

  get status(): number | undefined {
    return this.problem?.status;
  }
}

/** Thrown by a `getToken()` callback to say "signed out for good" (anything else thrown is retried). */
export class AuthError extends Error {
  constructor(message = 'not signed in') {
    super(message);
    this.name = 'AuthError';
  }
}

/**
 * Refused for good: a 4xx other than 429 (rate limited) and 401 (the session or token ended; the
 * client renews and retries). 5xx, 429, timeouts and network failures are retried.
 */
export function isPermanent(problem: Problem | undefined): boolean {
  if (!problem) return false;
  return problem.status >= 400 && problem.status < 500 && problem.status !== 429 && problem.status !== 401 && problem.status !== 408;
}

export function isProblem(value: unknown): value is Problem {
  return typeof value === 'object' && value !== null && typeof (value as Problem).status === 'number' && typeof (value as Problem).code === 'string';
}

export function errorFromProblem(problem: Problem, http?: HttpInfo): SwitchboardError {
  const kind = problem.status === 401 ? 'unauthorized' : isPermanent(problem) ? 'refused' : 'transient';
  return new SwitchboardError(kind, problem.detail || problem.title, problem, http);
}

import * as Sentry from '@sentry/node';
import type { Logger } from './logger';

export interface ErrorReporter {
  capture(error: unknown, context?: Record<string, string | number | undefined>): void;
  flush(timeoutMs: number): Promise<void>;
}

/**
 * Sentry when SENTRY_DSN is set, otherwise nothing. Only errors are sent: no performance tracing,
 * no request bodies, no headers (tokens), no message text.
 */
export function createErrorReporter(options: { dsn?: string; release: string; environment: string; logger: Logger }): ErrorReporter {
  if (!options.dsn) return { capture: () => undefined, flush: async () => undefined };
  Sentry.init({
    dsn: options.dsn,
    release: options.release,
    environment: options.environment,
    defaultIntegrations: false,
    integrations: [],
    beforeSend(event) {
      if (event.request) {
        delete event.request.data;
        delete event.request.headers;
        delete event.request.cookies;
        delete event.request.query_string;
      }
      delete event.user;
      return event;
    },
  });
  options.logger.info({ release: options.release }, 'sentry error reporting enabled');
  return {
    capture(error, context) {
      Sentry.withScope((scope) => {
        for (const [key, value] of Object.entries(context ?? {})) if (value !== undefined) scope.setTag(key, String(value));
        Sentry.captureException(error);
      });
    },
    async flush(timeoutMs) {
      await Sentry.flush(timeoutMs);
    },
  };
}

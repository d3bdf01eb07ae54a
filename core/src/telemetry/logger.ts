import pino from 'pino';

/** The one logger: JSON lines on stdout. Tokens and message text are never logged. */
export function createLogger(options: { level: string; instance: string; version: string }) {
  return pino({
    level: options.level,
    base: { service: 'switchboard-core', instance: options.instance, version: options.version },
    redact: { paths: ['req.headers.authorization', 'auth.token', 'token', 'text', '*.text'], censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}

export type Logger = ReturnType<typeof createLogger>;

import pino from 'pino';

/**
 * Errors as pino logs them, minus what can carry message text: a MongoBulkWriteError's writeErrors
 * hold each refused document (`op`) and its `result` every inserted id; only their codes are kept.
 */
export function serializeError(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { value: String(error) };
  const out = pino.stdSerializers.err(error) as unknown as Record<string, unknown>;
  const bulk = error as { writeErrors?: unknown };
  if (bulk.writeErrors !== undefined) {
    const list = Array.isArray(bulk.writeErrors) ? bulk.writeErrors : [bulk.writeErrors];
    out.writeErrors = list.map((w: { index?: number; code?: number }) => ({ index: w.index, code: w.code }));
    delete out.result;
    delete out.errorResponse;
  }
  return out;
}

/** The one logger: JSON lines on stdout. Tokens and message text are never logged. */
export function createLogger(options: { level: string; instance: string; version: string }) {
  return pino({
    level: options.level,
    serializers: { err: serializeError },
    base: { service: 'switchboard-core', instance: options.instance, version: options.version },
    redact: { paths: ['req.headers.authorization', 'auth.token', 'token', 'text', '*.text'], censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}

export type Logger = ReturnType<typeof createLogger>;

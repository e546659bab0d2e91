// pino logger with redaction: credentials never reach a log line, wherever they hide.
import { type Logger, type LoggerOptions, pino } from 'pino';

/**
 * Paths censored in every log line. Junction never logs headers, config or bodies, so these are the
 * second line of defence. Exact paths cost nothing on a line that does not carry their first key.
 * A `*.` wildcard would cost every line dearly (pino then runs every top-level value through the
 * redactor, which deep-copies objects: the per-operation line's `upstream` object, for one), so the
 * one censored at any key, `authorization` one level down, is matched by `censorNested` instead.
 */
export const REDACT_PATHS = [
  'authorization',
  'password',
  'secret',
  'token',
  'apiKey',
  'clientSecret',
  'accessToken',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers["x-api-key"]',
  'err.config',
];

export const REDACT_CENSOR = '[redacted]';

/** Keys censored one level down under any top-level key (what `*.authorization` would match). */
const NESTED_KEYS = ['authorization'] as const;

/**
 * pino's `formatters.log`: `{ anything: { authorization } }` is censored, as the wildcard path
 * `*.authorization` would. A line without such a key (every line Junction writes on the hot path)
 * costs one `hasOwn` per top-level object value and is returned as is; one with it is copied
 * (the caller's object is never changed). Child-logger bindings are not looked at: Junction binds
 * only request ids.
 */
export function censorNested(line: Record<string, unknown>): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  for (const key of Object.keys(line)) {
    const value = line[key];
    if (typeof value !== 'object' || value === null || Array.isArray(value)) continue;
    for (const nested of NESTED_KEYS) {
      if (Object.hasOwn(value, nested)) {
        out ??= { ...line };
        // The same prototype (an Error stays an Error for its serializer), the key censored.
        const copy = Object.assign(Object.create(Object.getPrototypeOf(value)), value);
        if (value instanceof Error) Object.assign(copy, { message: value.message, stack: value.stack });
        copy[nested] = REDACT_CENSOR;
        out[key] = copy;
      }
    }
  }
  return out ?? line;
}

/** Where a log line learns the active trace (observability/tracing.ts), when tracing is on. */
export interface LogTraceSource {
  logFields(): { trace_id: string; span_id: string } | undefined;
}

/**
 * `trace`: each line written while a span is active carries its `trace_id` and `span_id`. Without
 * it (tracing off) no mixin is installed: nothing is looked up per line.
 */
export function loggerOptions(level: string, trace?: LogTraceSource): LoggerOptions {
  return {
    level,
    redact: { paths: REDACT_PATHS, censor: REDACT_CENSOR },
    formatters: { log: censorNested },
    base: { service: 'junction' },
    timestamp: pino.stdTimeFunctions.isoTime,
    ...(trace ? { mixin: () => trace.logFields() ?? {} } : {}),
  };
}

export function createLogger(
  level: string,
  destination?: pino.DestinationStream,
  trace?: LogTraceSource,
): Logger {
  return destination ? pino(loggerOptions(level, trace), destination) : pino(loggerOptions(level, trace));
}

/**
 * The service's own stdout logger, written asynchronously (sonic-boom), so a log line
 * does not cost the request a synchronous write. Call `flush()` before exiting, or buffered lines
 * are lost.
 */
export function createServiceLogger(
  level: string,
  trace?: LogTraceSource,
): { logger: Logger; flush: () => void } {
  // minLength 0: write as soon as the event loop allows (lines coalesce under load, never wait for traffic).
  const destination = pino.destination({ dest: 1, sync: false, minLength: 0 });
  const logger = pino(loggerOptions(level, trace), destination);
  return {
    logger,
    flush: () => {
      try {
        destination.flushSync();
      } catch {
        // nothing buffered, or stdout already closed
      }
    },
  };
}

// What the upstream layer needs from tracing (observability/tracing.ts builds it from the config):
// a tracer, W3C header injection and the active context. When tracing is off no UpstreamTracing
// exists and CallContext.trace stays undefined, so the hot path tests one field and does nothing.
import type { Attributes, Context, Tracer } from '@opentelemetry/api';
import { trace } from '@opentelemetry/api';
import type { CallContext } from './callContext.js';

export interface UpstreamTracing {
  readonly tracer: Tracer;
  /** Writes `traceparent` (and `tracestate`) for `context`'s span into `headers`. */
  inject(context: Context, headers: Record<string, string>): void;
  /** Runs `fn` with `context` active: log lines written inside carry its trace and span ids. */
  with<T>(context: Context, fn: () => T): T;
  /** The active context (a webhook's span, say), for calls made without an explicit one. */
  active(): Context;
}

/**
 * Span and event attribute names. Stable semantic conventions where one exists (http.*, server.*,
 * error.type); Junction's own under `junction.`. None of them ever holds an id, a secret or a URL
 * with a query string.
 */
export const ATTR = {
  httpMethod: 'http.request.method',
  httpStatus: 'http.response.status_code',
  httpRoute: 'http.route',
  resendCount: 'http.request.resend_count',
  urlTemplate: 'url.template',
  serverAddress: 'server.address',
  serverPort: 'server.port',
  errorType: 'error.type',
  provider: 'junction.provider',
  route: 'junction.route',
  attempt: 'junction.attempt',
  attempts: 'junction.attempts',
  outcome: 'junction.outcome',
  cache: 'junction.cache',
  upstreamRequestId: 'junction.upstream.request_id',
  delayMs: 'junction.retry.delay_ms',
  reason: 'junction.reason',
  waitMs: 'junction.throttle.wait_ms',
  circuitGroup: 'junction.circuit.group',
} as const;

/** Event names on an upstream call's span (what the resilience pipeline did with it). */
export const EVENT = {
  /** A failed attempt will be tried again after `junction.retry.delay_ms`. */
  retry: 'junction.retry',
  /** A retryable failure was not retried; `junction.reason` says why. */
  retrySkipped: 'junction.retry.skipped',
  /** The call waited `junction.throttle.wait_ms` for a rate-limit token. */
  throttled: 'junction.throttle.wait',
  /** No rate-limit token came in time: the call was refused without leaving. */
  throttleRefused: 'junction.throttle.refused',
  /** The circuit breaker refused the call without sending it. */
  circuitRefused: 'junction.circuit.refused',
} as const;

/** Adds an event to the call's span; does nothing when tracing is off. */
export function addCallEvent(ctx: CallContext, name: string, attributes: Attributes): void {
  if (ctx.trace === undefined) return;
  trace.getSpan(ctx.trace)?.addEvent(name, attributes);
}

/**
 * A caller joined shared work (a coalesced cache load, a batch) that another trace started: its
 * span gets a link to that trace, so the wait can be followed to the work that answered it.
 */
export function linkSharedWork(waiter: Context | undefined, work: Context | undefined): void {
  if (waiter === undefined || work === undefined || waiter === work) return;
  const span = trace.getSpan(waiter);
  const target = trace.getSpanContext(work);
  if (!span || !target || span.spanContext().traceId === target.traceId) return;
  span.addLink({ context: target, attributes: { [ATTR.reason]: 'shared_work' } });
}

// What one GraphQL operation hands down to every upstream call it causes: cancellation, the
// remaining deadline, the request id to forward, its trace, and hooks for the per-operation upstream report.
import type { Context } from '@opentelemetry/api';

export interface UpstreamCallInfo {
  provider: string;
  /** Route template, e.g. `GET /users/:id`: bounded, never contains ids. */
  route: string;
  status: number | undefined;
  attempt: number;
  durationMs: number;
  startedAtMs: number;
  outcome: 'success' | 'error' | 'cancelled';
  errorCode?: string | undefined;
  upstreamRequestId?: string | undefined;
  /** Junction's request id of the operation that made the call (forwarded as x-request-id). */
  requestId?: string | undefined;
}

export interface CallContext {
  /** Aborted when the client's request goes away. */
  signal?: AbortSignal | undefined;
  /** Epoch ms after which the operation no longer wants answers; attempts and backoffs stop then. */
  deadline?: number | undefined;
  /** Junction's request id, forwarded to providers as `x-request-id`. */
  requestId?: string | undefined;
  /** Called once per upstream attempt (success or failure). */
  onCall?: ((info: UpstreamCallInfo) => void) | undefined;
  /** Called when the cache answers: `hit` (fresh), `stale` (served past its TTL) or `miss`. */
  onCache?: ((provider: string, outcome: 'hit' | 'stale' | 'miss') => void) | undefined;
  /** Called when a call waited for a rate-limit token, with the wait in ms. */
  onThrottle?: ((provider: string, waitedMs: number) => void) | undefined;
  /**
   * The trace the call belongs to: the operation's span (inside the client, the call's own span).
   * Undefined when tracing is off. Shared work carries the first caller's (see SharedCallContext).
   */
  trace?: Context | undefined;
  /** Set on the context of a cache load: the call fills an empty entry (`miss`) or refreshes an expired one (`stale`). */
  cacheLoad?: 'miss' | 'stale' | undefined;
}

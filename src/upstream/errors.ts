// Typed upstream failures: every way a provider call can fail becomes one of these, in one place
// (RestClient.errorFromResponse / errorFromException). The GraphQL layer alone maps them to the
// client-facing error contract. None of them ever carries a secret, a credentialed URL or a raw body.

/** Stable codes, one per kind of failure. */
export type UpstreamErrorCode =
  | 'UPSTREAM_TIMEOUT'
  | 'UPSTREAM_UNAVAILABLE'
  | 'UPSTREAM_RATE_LIMITED'
  | 'UPSTREAM_CIRCUIT_OPEN'
  | 'UPSTREAM_BAD_RESPONSE'
  | 'UPSTREAM_REJECTED'
  | 'NOT_FOUND'
  | 'BAD_USER_INPUT'
  | 'PAYMENT_DECLINED';

export interface UpstreamErrorDetails {
  /** Provider name, e.g. `users`, `stripe`. */
  provider: string;
  /** HTTP status the provider answered with, when it answered. */
  status?: number | undefined;
  /** The provider's own error code, e.g. Stripe's `card_declined` or Twilio's `21211`. */
  upstreamCode?: string | undefined;
  /** The provider's request id (`Request-Id`, `X-Request-Id`, `Twilio-Request-Id`...). */
  upstreamRequestId?: string | undefined;
  /** Seconds the provider asked us to wait before trying again, when it said. */
  retryAfterSeconds?: number | undefined;
  /**
   * The provider's explicit word on retrying this failure (e.g. Stripe's `Stripe-Should-Retry`),
   * when it gave one: it wins over the kind of failure (see mayRetry).
   */
  providerSaysRetry?: boolean | undefined;
  /** The answer broke off (truncated body, reset mid-body): the same call may well succeed. */
  incomplete?: boolean | undefined;
  /**
   * True when the failure proves the request never reached the provider (connection refused,
   * DNS failure, connect timeout): even a non-idempotent call is then safe to retry.
   */
  notSent?: boolean | undefined;
  /** For BAD_USER_INPUT: the input field the provider objected to. */
  field?: string | undefined;
  /** Provider-specific extra detail that is safe to show (e.g. Stripe's decline_code). */
  detail?: Record<string, string> | undefined;
  /**
   * The answer's rate-limit headers (Retry-After, RateLimit*, X-RateLimit-*), bounded in length: the
   * rate limiter reads them from errors as from successes. Never shown to clients.
   */
  rateLimitHeaders?: Readonly<Record<string, string>> | undefined;
  cause?: unknown;
}

const MARKER = Symbol.for('junction.UpstreamError');

export class UpstreamError extends Error {
  readonly [MARKER] = true;
  readonly code: UpstreamErrorCode;
  readonly provider: string;
  readonly status: number | undefined;
  readonly upstreamCode: string | undefined;
  readonly upstreamRequestId: string | undefined;
  readonly retryAfterSeconds: number | undefined;
  readonly retryable: boolean;
  readonly notSent: boolean;
  readonly field: string | undefined;
  readonly detail: Record<string, string> | undefined;
  readonly rateLimitHeaders: Readonly<Record<string, string>> | undefined;

  constructor(code: UpstreamErrorCode, message: string, details: UpstreamErrorDetails) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.code = code;
    this.provider = details.provider;
    this.status = details.status;
    this.upstreamCode = details.upstreamCode;
    this.upstreamRequestId = details.upstreamRequestId;
    this.retryAfterSeconds = details.retryAfterSeconds;
    this.retryable = mayRetry(code, details);
    this.notSent = details.notSent ?? false;
    this.field = details.field;
    this.detail = details.detail;
    this.rateLimitHeaders = details.rateLimitHeaders;
  }
}

/**
 * Whether the same call may succeed if tried again, decided here and nowhere else: the provider's
 * explicit word first (Stripe-Should-Retry), then the kind of failure. Timeouts, unavailability,
 * rate limits, open circuits, conflicts (409) and answers that broke off may pass next time;
 * refusals, bad input, declines, missing resources and malformed answers will fail again.
 * (Whether Junction does retry is retry.ts's `isRetryable`: idempotency and its own refusals.)
 */
export function mayRetry(
  code: UpstreamErrorCode,
  facts: Pick<UpstreamErrorDetails, 'status' | 'providerSaysRetry' | 'incomplete'>,
): boolean {
  if (facts.providerSaysRetry !== undefined) return facts.providerSaysRetry;
  if (facts.incomplete) return true;
  switch (code) {
    case 'UPSTREAM_TIMEOUT':
    case 'UPSTREAM_UNAVAILABLE':
    case 'UPSTREAM_RATE_LIMITED':
    case 'UPSTREAM_CIRCUIT_OPEN':
      return true;
    case 'UPSTREAM_REJECTED':
      return facts.status === 409; // a conflict (a concurrent change) may clear
    default:
      return false;
  }
}

/** The attempt ran out of time (per-attempt timeout or the operation's deadline). */
export class UpstreamTimeoutError extends UpstreamError {
  constructor(message: string, details: UpstreamErrorDetails) {
    super('UPSTREAM_TIMEOUT', message, details);
  }
}

/** The provider could not be reached or answered 5xx. */
export class UpstreamUnavailableError extends UpstreamError {
  constructor(message: string, details: UpstreamErrorDetails) {
    super('UPSTREAM_UNAVAILABLE', message, details);
  }
}

/** The provider throttled us (429), or our own limiter would have waited too long. */
export class UpstreamRateLimitedError extends UpstreamError {
  constructor(message: string, details: UpstreamErrorDetails) {
    super('UPSTREAM_RATE_LIMITED', message, details);
  }
}

/** The provider's circuit is open: the call was not attempted. */
export class UpstreamCircuitOpenError extends UpstreamError {
  constructor(message: string, details: UpstreamErrorDetails) {
    super('UPSTREAM_CIRCUIT_OPEN', message, details);
  }
}

/** The provider answered something we cannot use: malformed, truncated, or the wrong shape. */
export class UpstreamBadResponseError extends UpstreamError {
  constructor(message: string, details: UpstreamErrorDetails) {
    super('UPSTREAM_BAD_RESPONSE', message, details);
  }
}

/** The provider refused the call for a reason that is not the caller's input (auth, 4xx). */
export class UpstreamRejectedError extends UpstreamError {
  constructor(message: string, details: UpstreamErrorDetails) {
    super('UPSTREAM_REJECTED', message, details);
  }
}

/** The provider says the resource does not exist. */
export class UpstreamNotFoundError extends UpstreamError {
  constructor(message: string, details: UpstreamErrorDetails) {
    super('NOT_FOUND', message, details);
  }
}

/** The provider rejected a value the caller gave (named in `field`). */
export class UpstreamInputError extends UpstreamError {
  constructor(message: string, details: UpstreamErrorDetails) {
    super('BAD_USER_INPUT', message, details);
  }
}

/** A payment provider declined the payment (e.g. Stripe `card_error`). */
export class PaymentDeclinedError extends UpstreamError {
  constructor(message: string, details: UpstreamErrorDetails) {
    super('PAYMENT_DECLINED', message, details);
  }
}

/** Works across module copies (marker symbol), unlike `instanceof`. */
export function isUpstreamError(error: unknown): error is UpstreamError {
  return typeof error === 'object' && error !== null && MARKER in error;
}

export function isUpstreamCode<C extends UpstreamErrorCode>(
  error: unknown,
  code: C,
): error is UpstreamError & { code: C } {
  return isUpstreamError(error) && error.code === code;
}

/**
 * The client's own request went away (disconnect or cancellation). Not a provider failure: it is
 * never retried, never counted against a circuit, and never shown to anyone (nobody is listening).
 */
export class RequestCancelledError extends Error {
  readonly code = 'REQUEST_CANCELLED';
  constructor(cause?: unknown) {
    super('the client request was cancelled', cause === undefined ? undefined : { cause });
    this.name = 'RequestCancelledError';
  }
}

export function isRequestCancelledError(error: unknown): error is RequestCancelledError {
  return error instanceof RequestCancelledError;
}

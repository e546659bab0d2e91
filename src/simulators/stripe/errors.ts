// Stripe's error responses: `{error:{type, code, message, param, ...}}` with the status Stripe uses,
// thrown from handlers as StripeApiError and turned into a response in one place (responses.ts).
import { SimHttpError } from '../shared/wire.js';
import type { StripePaymentIntent, StripePaymentMethodSummary } from './objects.js';
import { docUrl } from './objects.js';

export type StripeErrorType =
  | 'api_error'
  | 'card_error'
  | 'idempotency_error'
  | 'invalid_request_error'
  | 'rate_limit_error';

/** The `error` member of a Stripe error body (optional members are absent, not null, like Stripe's). */
export interface StripeErrorObject {
  type: StripeErrorType;
  message: string;
  code?: string;
  decline_code?: string;
  param?: string;
  doc_url?: string;
  charge?: string;
  payment_intent?: StripePaymentIntent;
  payment_method?: StripePaymentMethodSummary;
}

export class StripeApiError extends SimHttpError {
  readonly error: StripeErrorObject;
  constructor(status: number, error: StripeErrorObject, headers: Record<string, string> = {}) {
    super(status, error.message, { error }, headers);
    this.name = 'StripeApiError';
    this.error = error;
  }
}

/** A 400 (or `status`) `invalid_request_error`; `code` also sets `doc_url` like Stripe does. */
export function invalidRequest(
  message: string,
  opts: { code?: string; param?: string; status?: number } = {},
): StripeApiError {
  return new StripeApiError(opts.status ?? 400, {
    type: 'invalid_request_error',
    message,
    ...(opts.code === undefined ? {} : { code: opts.code, doc_url: docUrl(opts.code) }),
    ...(opts.param === undefined ? {} : { param: opts.param }),
  });
}

export function missingParam(param: string): StripeApiError {
  return invalidRequest(`Missing required param: ${param}.`, { code: 'parameter_missing', param });
}

export function unknownParam(param: string): StripeApiError {
  return invalidRequest(`Received unknown parameter: ${param}`, { code: 'parameter_unknown', param });
}

/** 404 for `GET /v1/<resource>/:id`, or 400 when the id came in as a parameter (`customer=cus_x`). */
export function noSuch(resource: string, id: string, param: string, status = 400): StripeApiError {
  return invalidRequest(`No such ${resource}: '${id}'`, { code: 'resource_missing', param, status });
}

/**
 * Masks an API key the way Stripe's "Invalid API Key provided" message does: the `sk_test_` style
 * prefix and the last four characters stay, everything between becomes `*`.
 */
export function maskApiKey(key: string): string {
  const prefix = /^(?:sk|rk|pk)_(?:test|live)_/.exec(key)?.[0] ?? '';
  const rest = key.slice(prefix.length);
  if (rest.length <= 4) return prefix + '*'.repeat(rest.length);
  return `${prefix}${'*'.repeat(rest.length - 4)}${rest.slice(-4)}`;
}

/** Stripe's body for an injected fault status, plus `Stripe-Should-Retry` as Stripe sets it. */
export function stripeFaultError(status: number): { body: unknown; headers: Record<string, string> } {
  const retry = status === 409 || status === 429 || status >= 500;
  let error: StripeErrorObject;
  if (status === 429) {
    error = {
      type: 'rate_limit_error',
      code: 'rate_limit',
      message:
        'Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.',
    };
  } else if (status === 409) {
    error = {
      type: 'invalid_request_error',
      code: 'lock_timeout',
      message:
        'This object cannot be accessed right now because another API request or Stripe process is currently accessing it.',
    };
  } else if (status >= 500) {
    error = { type: 'api_error', message: 'An unknown error occurred (simulated fault).' };
  } else {
    error = { type: 'invalid_request_error', message: `Simulated fault: status ${status}.` };
  }
  return {
    body: JSON.stringify({ error }, null, 2),
    headers: { 'content-type': 'application/json', 'stripe-should-retry': String(retry) },
  };
}

// Stripe's answers as bytes: pretty-printed JSON, and error bodies with members in Stripe's order, the
// request's dashboard link and `Stripe-Should-Retry`. Serialised once, so idempotent replays repeat the bytes.
import type { SimRequest, SimResponse } from '../shared/wire.js';
import type { StripeApiError, StripeErrorObject } from './errors.js';

/** A handler's answer before serialisation. */
export interface Reply {
  status: number;
  body: unknown;
}

export function serialize(reply: Reply, headers: Record<string, string>): SimResponse {
  return { status: reply.status, headers, body: JSON.stringify(reply.body, null, 2) };
}

export function errorResponse(
  error: StripeApiError,
  req: SimRequest,
  headers: Record<string, string>,
): SimResponse {
  const body: StripeErrorObject & { request_log_url: string } = {
    ...error.error,
    request_log_url: `https://dashboard.stripe.com/test/logs/${req.requestId}`,
  };
  // Stripe orders error members alphabetically.
  const sorted = Object.fromEntries(Object.entries(body).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return {
    status: error.status,
    headers: {
      ...headers,
      ...error.headers,
      'stripe-should-retry': String(error.status === 409 || error.status >= 500),
    },
    body: JSON.stringify({ error: sorted }, null, 2),
  };
}

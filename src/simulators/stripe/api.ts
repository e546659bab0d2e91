// What every Stripe route does around its handler: Stripe's headers, the API key, form or query
// parameters decoded into nested maps, idempotency keys on POST, and StripeApiErrors answered as Stripe does.
import type { Route } from '../shared/router.js';
import type { SimRequest } from '../shared/wire.js';
import { headerValue } from '../shared/wire.js';
import { authenticate } from './auth.js';
import { noSuch, StripeApiError } from './errors.js';
import { createIdempotencyStore } from './idempotency.js';
import type { StripeParamMap } from './params.js';
import { decodeStripeParams } from './params.js';
import type { Reply } from './responses.js';
import { errorResponse, serialize } from './responses.js';

/** One authenticated API call, as a resource handler sees it. */
export interface StripeCall {
  req: SimRequest;
  /** The form body (POST) or the query (GET), decoded. */
  params: StripeParamMap;
  apiKey: string;
  /** The `Idempotency-Key` of a POST, else null. */
  idempotencyKey: string | null;
}

export type StripeHandler = (call: StripeCall) => Reply;

export interface StripeApiOptions {
  /** Keys accepted for the account. */
  apiKeys: ReadonlySet<string>;
  /** `Stripe-Version` answered when the request does not send one (a sent one is echoed). */
  apiVersion: string;
}

export interface StripeApi {
  /** A route whose handler runs inside Stripe's request handling. */
  route(method: 'GET' | 'POST', path: string, handler: StripeHandler): Route;
}

export function createStripeApi(opts: StripeApiOptions): StripeApi {
  const idempotency = createIdempotencyStore();
  return {
    route: (method, path, handler) => ({
      method,
      path,
      handler: (req) => {
        const headers: Record<string, string> = {
          'stripe-version': headerValue(req, 'stripe-version') ?? opts.apiVersion,
          'content-type': 'application/json',
          'cache-control': 'no-cache, no-store',
        };
        const idempotencyKey = method === 'POST' ? (headerValue(req, 'idempotency-key') ?? null) : null;
        if (idempotencyKey !== null) headers['idempotency-key'] = idempotencyKey;
        try {
          const apiKey = authenticate(req.headers.authorization, opts.apiKeys);
          const params = decodeStripeParams(method === 'POST' ? req.form() : req.query);
          const call: StripeCall = { req, params, apiKey, idempotencyKey };
          if (idempotencyKey === null) return serialize(handler(call), headers);
          return idempotency.answer({ req, params, apiKey, key: idempotencyKey, headers }, () =>
            handler(call),
          );
        } catch (error) {
          if (error instanceof StripeApiError) return errorResponse(error, req, headers);
          throw error;
        }
      },
    }),
  };
}

/** The `request` member of the events a call causes. */
export function eventRequest(call: StripeCall): { id: string; idempotency_key: string | null } {
  return { id: call.req.requestId, idempotency_key: call.idempotencyKey };
}

/** `GET /v1/<resource>s/:id`: the object, or Stripe's 404 `resource_missing` naming `resource`. */
export function retrieve<T>(objects: ReadonlyMap<string, T>, resource: string, { req }: StripeCall): Reply {
  const id = req.params.id ?? '';
  const object = objects.get(id);
  if (object === undefined) throw noSuch(resource, id, 'id', 404);
  return { status: 200, body: object };
}

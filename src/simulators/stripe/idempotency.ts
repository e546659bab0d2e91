// Stripe's idempotency keys on POST: the first answer to a key is kept 24 h per API key and replayed
// byte for byte (with `Idempotent-Replayed`); reusing a key on another endpoint or with other parameters is a 400.
import type { SimRequest, SimResponse } from '../shared/wire.js';
import { invalidRequest, StripeApiError } from './errors.js';
import type { StripeParamMap } from './params.js';
import { canonicalParams } from './params.js';
import type { Reply } from './responses.js';
import { errorResponse, serialize } from './responses.js';

const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000; // 24h, as Stripe keeps keys
const MAX_KEY_LENGTH = 255;

export interface IdempotentRequest {
  req: SimRequest;
  params: StripeParamMap;
  /** Keys are scoped per API key, as Stripe scopes them per account key. */
  apiKey: string;
  key: string;
  /** Headers of the answer (Stripe-Version, Idempotency-Key, ...). */
  headers: Record<string, string>;
}

export interface IdempotencyStore {
  /**
   * The saved answer to an earlier request with the same key, or the answer of `run()`, saved when the
   * request began executing (a 402 is saved; a parameter error thrown by `run` is not, Stripe's rule).
   */
  answer(request: IdempotentRequest, run: () => Reply): SimResponse;
}

interface SavedAnswer {
  path: string;
  fingerprint: string;
  status: number;
  body: string;
  requestId: string;
  storedAt: number;
}

export function createIdempotencyStore(): IdempotencyStore {
  const saved = new Map<string, SavedAnswer>();
  return {
    answer({ req, params, apiKey, key, headers }, run) {
      if (key.length > MAX_KEY_LENGTH) {
        throw invalidRequest(`Idempotency-Key must be at most ${MAX_KEY_LENGTH} characters long.`, {
          param: 'Idempotency-Key',
        });
      }
      const now = Date.now();
      for (const [k, v] of saved) if (now - v.storedAt > IDEMPOTENCY_TTL_MS) saved.delete(k);
      const scoped = `${apiKey}\u0000${key}`;
      const fingerprint = canonicalParams(params);
      const previous = saved.get(scoped);
      if (previous !== undefined) {
        if (previous.path !== req.path) {
          throw new StripeApiError(400, {
            type: 'idempotency_error',
            message: `Keys for idempotent requests can only be used for the same endpoint they were first used for ('${previous.path}' vs '${req.path}'). Try using a key other than '${key}' if you meant to execute a different request.`,
          });
        }
        if (previous.fingerprint !== fingerprint) {
          throw new StripeApiError(400, {
            type: 'idempotency_error',
            message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
          });
        }
        return {
          status: previous.status,
          headers: {
            ...headers,
            ...(previous.status >= 400 ? { 'stripe-should-retry': 'false' } : {}),
            'idempotent-replayed': 'true',
            'original-request': previous.requestId,
          },
          body: previous.body,
        };
      }
      let response: SimResponse;
      try {
        response = serialize(run(), headers);
      } catch (error) {
        if (!(error instanceof StripeApiError) || error.status !== 402) throw error;
        response = errorResponse(error, req, headers);
      }
      saved.set(scoped, {
        path: req.path,
        fingerprint,
        status: response.status,
        body: String(response.body),
        requestId: req.requestId,
        storedAt: now,
      });
      return response;
    },
  };
}

// `GET /v1/payment_intents`: newest first, filtered by `customer`, paged by `limit` with the
// `starting_after` / `ending_before` cursors and `has_more`, as Stripe lists.
import { lastN, newestFirst } from '../shared/newestFirst.js';
import type { StripeCall } from './api.js';
import { invalidRequest, noSuch } from './errors.js';
import type { StripeParamMap } from './params.js';
import { optionalString, positiveInteger, rejectUnknown } from './params.js';
import type { Reply } from './responses.js';
import type { StripeState } from './state.js';

const DEFAULT_LIST_LIMIT = 10;
const MAX_LIST_LIMIT = 100;
const LIST_PARAMS = new Set(['customer', 'limit', 'starting_after', 'ending_before', 'expand']);

export function listPaymentIntents(state: StripeState, { params }: StripeCall): Reply {
  rejectUnknown(params, LIST_PARAMS);
  const limit = parseLimit(params);
  const customer = optionalString(params, 'customer');
  const startingAfter = optionalString(params, 'starting_after');
  const endingBefore = optionalString(params, 'ending_before');
  if (startingAfter !== null && endingBefore !== null) {
    throw invalidRequest('You may only specify one of these parameters: ending_before, starting_after.', {
      code: 'parameters_exclusive',
      param: 'ending_before',
    });
  }
  const list = newestFirst(state.paymentIntents.values(), {
    key: (pi) => pi.id,
    createdAt: (pi) => pi.created,
    keep: (pi) => customer === null || pi.customer === customer,
  });

  let rest = list.items;
  if (endingBefore !== null) {
    const newer = list.newerThan(endingBefore);
    if (newer === undefined) throw noSuch('payment_intent', endingBefore, 'ending_before');
    return page(lastN(newer, limit), newer.length > limit);
  }
  if (startingAfter !== null) {
    const older = list.olderThan(startingAfter);
    if (older === undefined) throw noSuch('payment_intent', startingAfter, 'starting_after');
    rest = older;
  }
  return page(rest.slice(0, limit), rest.length > limit);
}

function page(data: readonly unknown[], hasMore: boolean): Reply {
  return { status: 200, body: { object: 'list', data, has_more: hasMore, url: '/v1/payment_intents' } };
}

function parseLimit(params: StripeParamMap): number {
  const limit = positiveInteger(params, 'limit') ?? DEFAULT_LIST_LIMIT;
  if (limit > MAX_LIST_LIMIT) {
    throw invalidRequest(`This value must be less than or equal to ${MAX_LIST_LIMIT}.`, {
      code: 'parameter_invalid_integer',
      param: 'limit',
    });
  }
  return limit;
}

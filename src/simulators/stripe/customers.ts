// The customers resource: create, each creation counted and announced as `customer.created`
// (retrieving by id is api.ts's `retrieve`).
import type { StripeCall } from './api.js';
import { eventRequest } from './api.js';
import { buildCustomer, nowSeconds, randomAlphanumeric, stripeId } from './objects.js';
import { optionalEmail, optionalString, rejectUnknown, stringMap } from './params.js';
import type { Reply } from './responses.js';
import type { StripeState } from './state.js';

const CUSTOMER_PARAMS = new Set(['email', 'name', 'phone', 'description', 'metadata', 'expand']);

/** `POST /v1/customers` */
export function createCustomer(state: StripeState, call: StripeCall): Reply {
  const { params } = call;
  rejectUnknown(params, CUSTOMER_PARAMS);
  const email = optionalEmail(params, 'email');
  const customer = buildCustomer({
    id: stripeId('cus', undefined, 14),
    created: nowSeconds(),
    email,
    name: optionalString(params, 'name'),
    phone: optionalString(params, 'phone'),
    description: optionalString(params, 'description'),
    metadata: stringMap(params, 'metadata') ?? {},
    invoicePrefix: randomAlphanumeric(8).toUpperCase(),
  });
  state.customers.set(customer.id, customer);
  state.created.customer += 1;
  state.events.emit('customer.created', customer, eventRequest(call));
  return { status: 200, body: customer };
}

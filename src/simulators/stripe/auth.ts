// Stripe's API key check: the key comes as `Authorization: Bearer <key>` (stripe-node) or as the HTTP
// Basic user name (curl -u key:), and a wrong one is named only in Stripe's masked form.
import { basicCredentials, bearerToken } from '../shared/credentials.js';
import { maskApiKey, StripeApiError } from './errors.js';

const NO_KEY_MESSAGE =
  "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.";

/** The API key of the request when it is one of `apiKeys`; otherwise throws Stripe's 401. */
export function authenticate(authorization: string | undefined, apiKeys: ReadonlySet<string>): string {
  const key = bearerToken(authorization) ?? basicCredentials(authorization)?.user;
  if (key === undefined || key === '') throw unauthorized(NO_KEY_MESSAGE);
  if (!apiKeys.has(key)) throw unauthorized(`Invalid API Key provided: ${maskApiKey(key)}`);
  return key;
}

function unauthorized(message: string): StripeApiError {
  return new StripeApiError(
    401,
    { type: 'invalid_request_error', message },
    { 'www-authenticate': 'Basic realm="Stripe"' },
  );
}

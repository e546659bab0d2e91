// Twilio's HTTP Basic auth: the account SID as user, the auth token as password, and the same SID in
// the path; anything else is error 20003 with Twilio's challenge.
import { basicCredentials } from '../shared/credentials.js';
import type { SimRequest } from '../shared/wire.js';
import { twilioError } from './errors.js';
import type { TwilioAccount } from './state.js';

export function authenticate(req: SimRequest, account: TwilioAccount): void {
  const credentials = basicCredentials(req.headers.authorization);
  const user = credentials?.user ?? '';
  const password = credentials?.password ?? '';
  if (
    user !== account.accountSid ||
    (password !== account.authToken && password !== account.secondaryAuthToken) ||
    req.params.AccountSid !== account.accountSid
  ) {
    throw twilioError(401, 20003, 'Authenticate', { 'www-authenticate': 'Basic realm="Twilio API"' });
  }
}

// A second Junction process, as far as tokens go: opens the shared PostgreSQL database with its own
// pool, waits for "go" on stdin, asks for the same user's token N times at once, prints the tokens
// as JSON and exits. Run by accounts-refresh.test.ts with `node --import tsx`.
import { ConnectedAccounts } from '../../../../src/accounts/connectedAccounts.js';
import { KeyRing } from '../../../../src/accounts/crypto.js';
import { openPostgres } from '../../../../src/accounts/database.js';
import { parseReturnUrlRules } from '../../../../src/accounts/returnTo.js';
import { fakeProviderSpec } from './fakeOAuthServer.js';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};

const sql = await openPostgres({ connectionString: env('DATABASE_URL') });
const accounts = new ConnectedAccounts({
  sql,
  keys: KeyRing.fromText(env('TOKEN_ENCRYPTION_KEYS')),
  providers: [
    fakeProviderSpec({
      url: env('FAKE_OAUTH_URL'),
      clientId: env('FAKE_CLIENT_ID'),
      clientSecret: env('FAKE_CLIENT_SECRET'),
      redirectUri: 'http://127.0.0.1:4000/oauth/fake/callback',
    }),
  ],
  returnUrls: parseReturnUrlRules('http://127.0.0.1:4000/graphql'),
});
await sql.query('SELECT 1'); // connected before the signal, so both processes start together
process.stdout.write('ready\n');
await new Promise<void>((resolve) => process.stdin.once('data', () => resolve()));
const n = Number(env('CALLS'));
const results = await Promise.allSettled(
  Array.from({ length: n }, () => accounts.getAccessToken(env('USER_ID'), 'fake')),
);
process.stdout.write(
  `${JSON.stringify(results.map((r) => (r.status === 'fulfilled' ? r.value : `error:${(r.reason as { code?: string }).code}`)))}\n`,
);
await accounts.close();

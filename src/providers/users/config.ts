// The users service's configuration: where it is, its OAuth2 client-credentials grant, its limits
// and how long its answers are cached. Every default is written here once.
import { decimal, integer, rotating, secret, text, url } from '../../configSchema.js';
import type { ProviderConfigSpec } from '../module.js';

const remote = {
  apiUrl: url('USERS_API_URL', { doc: 'Base URL of the users service.' }),
  tokenUrl: url('USERS_TOKEN_URL', { doc: 'Its OAuth2 token endpoint (client-credentials grant).' }),
  clientId: text('USERS_CLIENT_ID', { doc: 'OAuth2 client id.' }),
  clientSecret: rotating(
    secret('USERS_CLIENT_SECRET', {
      doc: 'OAuth2 client secret (a new one from its file: the next token is fetched with it).',
    }),
    'none',
  ),
};

const settings = {
  ratePerSecond: decimal('USERS_RATE_LIMIT_PER_SECOND', {
    min: 0.1,
    max: 100_000,
    default: 200,
    doc: 'Requests per second per credential, never exceeded in any second, against the service.',
  }),
  maxBatch: integer('USERS_MAX_BATCH', {
    min: 1,
    max: 1000,
    default: 100, // the service's own limit
    doc: 'Ids per `GET /users?ids=` call.',
  }),
  cacheTtlSeconds: integer('USERS_CACHE_TTL_SECONDS', {
    min: 0,
    max: 86_400,
    default: 30,
    unit: 's',
    doc: 'Freshness of a cached user. `0` disables the cache.',
  }),
  staleWhileRevalidateSeconds: integer('USERS_CACHE_SWR_SECONDS', {
    min: 0,
    max: 86_400,
    default: 30,
    unit: 's',
    doc: 'How long a stale user is served while it is refreshed.',
  }),
  staleIfErrorSeconds: integer('USERS_CACHE_SIE_SECONDS', {
    min: 0,
    max: 86_400,
    default: 300,
    unit: 's',
    doc: 'How long a stale user is served while the service fails.',
  }),
};

export const usersConfig: ProviderConfigSpec<typeof remote, typeof settings> = {
  title: 'Users service',
  remote,
  settings,
};

// The users service as a provider module: the user directory every other domain joins on.
import { OAuth2ClientCredentialsAuth } from '../../upstream/auth.js';
import type { ProviderModule } from '../module.js';
import { USERS_PROVIDER, UsersClient } from './client.js';
import { usersConfig } from './config.js';
import { createUserLoader, type UserLoader } from './loaders.js';

type Spec = typeof usersConfig;

export const usersModule: ProviderModule<
  typeof USERS_PROVIDER,
  'directory',
  Spec['remote'],
  Spec['settings'],
  UsersClient,
  { user: UserLoader }
> = {
  name: USERS_PROVIDER,
  capability: 'directory',
  config: usersConfig,
  policy: (settings) => ({ ratePerSecond: settings.ratePerSecond }),
  createClient: ({ remote, settings }, deps) =>
    new UsersClient({
      ...deps.common,
      baseUrl: remote.apiUrl,
      auth: new OAuth2ClientCredentialsAuth({
        provider: USERS_PROVIDER,
        tokenUrl: remote.tokenUrl,
        clientId: remote.clientId,
        clientSecret: remote.clientSecret,
        dispatcher: deps.pools.get(remote.tokenUrl),
        maxPauseMs: deps.maxPauseMs,
        tracing: deps.tracing,
      }),
      cache: deps.cache,
      cachePolicy: {
        ttlSeconds: settings.cacheTtlSeconds,
        staleWhileRevalidateSeconds: settings.staleWhileRevalidateSeconds,
        staleIfErrorSeconds: settings.staleIfErrorSeconds,
      },
      maxBatch: settings.maxBatch,
      executor: deps.executor,
    }),
  createLoaders: (client, call) => ({ user: createUserLoader(client, call) }),
};

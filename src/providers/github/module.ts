// GitHub as a provider module: code hosting, read on behalf of each connected user (per-user OAuth
// with PKCE through connected accounts), with verified webhooks.
import type { ConnectedAccountSupport, ProviderModule } from '../module.js';
import { GITHUB_PROVIDER, GitHubClient } from './client.js';
import { githubConfig } from './config.js';
import { type CodeHostingLoaders, createCodeHostingLoaders } from './loaders.js';
import { githubOAuthSpec } from './oauth.js';
import { githubWebhooks } from './webhooks.js';

type Spec = typeof githubConfig;

/** The GraphQL contract's names for a user's GitHub account (DESIGN.md): `User.github: GitHubAccount`. */
const GRAPHQL_NAMES = { userField: 'github', accountType: 'GitHubAccount' } as const;

export const githubModule: ProviderModule<
  typeof GITHUB_PROVIDER,
  'codeHosting',
  Spec['remote'],
  Spec['settings'],
  GitHubClient,
  CodeHostingLoaders
> & {
  readonly connectedAccounts: ConnectedAccountSupport<Spec['remote'], Spec['settings'], GitHubClient> & {
    readonly graphql: typeof GRAPHQL_NAMES;
  };
} = {
  name: GITHUB_PROVIDER,
  capability: 'codeHosting',
  config: githubConfig,
  // GitHub limits each user's token on its own (x-ratelimit-* per user): one bucket per connection.
  policy: (settings) => ({ ratePerSecond: settings.ratePerSecond, rateLimitScope: 'credential' }),
  createClient: ({ remote, settings }, deps) =>
    new GitHubClient({
      ...deps.common,
      baseUrl: settings.apiBase,
      clientId: remote.clientId,
      clientSecret: remote.clientSecret,
      accounts: deps.accounts,
      cache: deps.cache,
      cachePolicy: {
        ttlSeconds: settings.cacheTtlSeconds,
        staleIfErrorSeconds: settings.staleIfErrorSeconds,
      },
      executor: deps.executor,
    }),
  createLoaders: createCodeHostingLoaders,
  webhooks: githubWebhooks,
  connectedAccounts: { oauthSpec: githubOAuthSpec, graphql: GRAPHQL_NAMES },
};

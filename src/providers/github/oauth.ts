// GitHub's OAuth web flow as connected accounts see it: endpoints on GITHUB_OAUTH_BASE, the app's
// credentials, the scopes asked for, who a token belongs to (`GET /user`) and how a grant is revoked
// (`DELETE /applications/{client_id}/grant`). GitHub's refresh refusal is `bad_refresh_token`.
import type { OAuthProviderSpec } from '../../accounts/provider.js';
import type { OAuthSpecContext, ProviderEndpoint } from '../module.js';
import { GITHUB_PROVIDER, type GitHubClient } from './client.js';
import type { githubConfig } from './config.js';

type Spec = typeof githubConfig;

export function githubOAuthSpec(
  endpoint: ProviderEndpoint<Spec['remote'], Spec['settings']>,
  ctx: OAuthSpecContext<GitHubClient>,
): OAuthProviderSpec {
  const base = endpoint.settings.oauthBase.replace(/\/+$/, '');
  return {
    id: GITHUB_PROVIDER,
    authorizeUrl: `${base}/login/oauth/authorize`,
    tokenUrl: `${base}/login/oauth/access_token`,
    clientId: endpoint.remote.clientId,
    // Read per use: a rotated GITHUB_CLIENT_SECRET_FILE applies to the next exchange.
    get clientSecret() {
      return endpoint.remote.clientSecret.current();
    },
    // Read when a flow begins: in demo mode Junction's URL is known only once it listens.
    get redirectUri() {
      return ctx.redirectUri();
    },
    scopes: endpoint.settings.scopes,
    clientAuth: 'client_secret_post',
    refusedGrantErrors: ['invalid_grant', 'bad_refresh_token'],
    fetchIdentity: (accessToken, signal) => ctx.client.identify(accessToken, signal),
    revoke: (tokens, signal) => ctx.client.revokeGrant(tokens.accessToken, signal),
  };
}

// Connected accounts: connectAccount, disconnectAccount and User.connectedAccounts, for every
// provider users may connect (the AccountProvider enum's values are the providers' ids in upper
// case). connectAccount answers over HTTP only: its answer sets the cookie that binds the flow to
// the browser that will open the URL (accounts/browserBinding.ts).
import { flowCookie } from '../../accounts/browserBinding.js';
import { AccountError, isAccountErrorCode } from '../../accounts/errors.js';
import type { AccountProvider, Resolvers } from '../../generated/graphql.js';
import type { ConnectedAccountView } from '../../models/accounts.js';
import { requireSelfOrAdmin, requireViewer } from '../authz.js';
import type { GraphQLContext } from '../context.js';
import { badUserInput } from '../errors.js';

export const accountsResolvers: Resolvers = {
  User: {
    connectedAccounts: async (user, _args, ctx) => {
      const viewer = requireSelfOrAdmin(ctx, user.id);
      const own = viewer.id === user.id;
      const known = new Set(ctx.accounts.providerIds);
      const connections = await ctx.accounts.list(user.id);
      return connections
        .filter((c) => known.has(c.provider))
        .map(
          (c): ConnectedAccountView =>
            own
              ? { ...c }
              : // Admins see whether a connection works, not whose account it is.
                { provider: c.provider, status: c.status, login: null, scopes: null, connectedAt: null },
        );
    },
  },
  ConnectedAccount: {
    provider: (connection) => connection.provider.toUpperCase() as AccountProvider,
  },
  Mutation: {
    connectAccount: async (_parent, { provider, returnTo }, ctx) => {
      const viewer = requireViewer(ctx);
      const browser = ctx.browser;
      if (!browser) {
        throw badUserInput(
          'connectAccount must be sent over HTTP from the browser that will open the URL: its answer sets the cookie that binds the flow to that browser',
          'provider',
        );
      }
      const id = providerId(ctx, provider);
      let begun: Awaited<ReturnType<GraphQLContext['accounts']['begin']>>;
      try {
        begun = await ctx.accounts.begin(viewer.id, id, returnTo, { origin: browser.origin });
      } catch (error) {
        if (isAccountErrorCode(error, 'RETURN_URL_NOT_ALLOWED'))
          throw badUserInput(error.message, 'returnTo');
        throw error;
      }
      const lifetimeSeconds = (begun.expiresAt.getTime() - Date.now()) / 1000;
      browser.setCookie(
        flowCookie(begun.state, lifetimeSeconds, { provider: id, secure: browser.secureCookies }),
      );
      return { authorizationUrl: begun.authorizationUrl, expiresAt: begun.expiresAt };
    },
    disconnectAccount: async (_parent, { provider }, ctx) => {
      const viewer = requireViewer(ctx);
      const id = providerId(ctx, provider);
      const result = await ctx.accounts.disconnect(viewer.id, id);
      if (!result.disconnected)
        throw new AccountError('ACCOUNT_NOT_CONNECTED', `no ${id} account is connected`, { provider: id });
      return { provider, revoked: result.revoked };
    },
  },
};

/** The provider id of an AccountProvider value, when connected accounts support it. */
function providerId(ctx: GraphQLContext, provider: AccountProvider): string {
  const id = provider.toLowerCase();
  if (!ctx.accounts.providerIds.includes(id))
    throw badUserInput(`${provider} accounts cannot be connected on this Junction`, 'provider');
  return id;
}

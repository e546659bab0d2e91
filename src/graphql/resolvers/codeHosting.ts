// Code hosting: a user's connected account and its repositories (User.<field> and its account type,
// named by the module that serves the capability: the contract's names are the provider's, so they
// come from its module rather than from this file), and repositoryUpdated. Read with the user's own
// grant, so only the user may read them.
import { isAccountErrorCode } from '../../accounts/errors.js';
import type { Resolvers } from '../../generated/graphql.js';
import { type Repository, repositoryTopic } from '../../models/codeHosting.js';
import { type ModuleFor, PROVIDERS } from '../../providers/registry.js';
import { requireSelf } from '../authz.js';
import { checkFirst } from './paging.js';

type CodeHosting = ModuleFor<'codeHosting'>;

const codeHosting = PROVIDERS.find((m): m is CodeHosting => m.capability === 'codeHosting');
if (!codeHosting) throw new Error('the registry has no code-hosting module');
const { userField, accountType } = codeHosting.connectedAccounts.graphql;

export const codeHostingResolvers: Resolvers = {
  User: {
    [userField]: async (user, _args, ctx) => {
      requireSelf(ctx, user.id);
      try {
        return await ctx.loaders.codeHostAccount.load(user.id);
      } catch (error) {
        // Not connected is no error here: the field is null. RECONNECT_REQUIRED is one.
        if (isAccountErrorCode(error, 'ACCOUNT_NOT_CONNECTED')) return null;
        throw error;
      }
    },
  },
  [accountType]: {
    repositories: (account, { first, after }, ctx) =>
      ctx.services.codeHosting.repositoriesPage(
        account.userId,
        { first: checkFirst(first ?? 10), after },
        ctx.upstream,
      ),
  },
  RepositoryConnection: {
    nodes: (connection) => connection.edges.map((edge) => edge.node),
  },
  Subscription: {
    repositoryUpdated: {
      subscribe: (_parent, { userId }, ctx) => {
        requireSelf(ctx, userId);
        return ctx.pushes.subscribe(repositoryTopic(userId));
      },
      resolve: (repository: Repository) => repository,
    },
  },
};

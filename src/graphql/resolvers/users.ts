// Users domain resolvers: me, user, users, and the User entity.
import type { Resolvers } from '../../generated/graphql.js';
import { requireAdmin, requireSelfOrAdmin, requireViewer } from '../authz.js';
import { checkFirst } from './paging.js';

export const usersResolvers: Resolvers = {
  Query: {
    me: (_parent, _args, ctx) => ctx.loaders.user.load(requireViewer(ctx).id),
    user: (_parent, { id }, ctx) => {
      requireSelfOrAdmin(ctx, id);
      return ctx.loaders.user.load(id);
    },
    users: async (_parent, { first, after }, ctx) => {
      requireAdmin(ctx);
      const connection = await ctx.services.directory.usersPage(
        { first: checkFirst(first), after },
        ctx.upstream,
      );
      // Later `user(id:)` lookups in the same operation need no upstream call.
      for (const edge of connection.edges) ctx.loaders.user.prime(edge.node.id, edge.node);
      return connection;
    },
  },
  User: {
    __resolveReference: (reference, ctx) => {
      requireSelfOrAdmin(ctx, reference.id);
      return ctx.loaders.user.load(reference.id);
    },
    name: (user) => `${user.firstName} ${user.lastName}`.trim(),
  },
  UserConnection: {
    nodes: (connection) => connection.edges.map((edge) => edge.node),
  },
};

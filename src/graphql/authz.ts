// Authorization rules shared by every domain: sign-in, self-or-admin, admin-only.
import type { GraphQLContext } from './context.js';
import { forbidden, unauthenticated } from './errors.js';
import type { Viewer } from './viewer.js';

export function requireViewer(ctx: GraphQLContext): Viewer {
  if (!ctx.viewer) throw unauthenticated();
  return ctx.viewer;
}

/** The viewer is `userId` or an admin. */
export function requireSelfOrAdmin(ctx: GraphQLContext, userId: string): Viewer {
  const viewer = requireViewer(ctx);
  if (!viewer.isAdmin && viewer.id !== userId) throw forbidden("You may only access your own user's data");
  return viewer;
}

export function requireAdmin(ctx: GraphQLContext): Viewer {
  const viewer = requireViewer(ctx);
  if (!viewer.isAdmin) throw forbidden('This field is for admins only');
  return viewer;
}

/** The viewer is `userId` themself: data read with a user's own grant is theirs alone, admins included. */
export function requireSelf(ctx: GraphQLContext, userId: string): Viewer {
  const viewer = requireViewer(ctx);
  if (viewer.id !== userId) throw forbidden("Only the user may read their connected account's data");
  return viewer;
}

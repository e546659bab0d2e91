// Billing domain resolvers: User.billing, User.payments and createPayment (users service + Stripe).
import { randomUUID } from 'node:crypto';
import type { Resolvers } from '../../generated/graphql.js';
import { type Payment, paymentTopic } from '../../models/billing.js';
import type { Connection } from '../../models/connection.js';
import { requireSelfOrAdmin, requireViewer } from '../authz.js';
import { badUserInput, forbidden, userError } from '../errors.js';
import { checkIdempotencyKey } from './idempotency.js';
import { checkFirst } from './paging.js';

const EMPTY: Connection<never> = { edges: [], pageInfo: { hasNextPage: false, endCursor: null } };
const CURRENCY = /^[a-z]{3}$/;
const MAX_AMOUNT = 99_999_999; // Stripe's own upper bound, in minor units

export const billingResolvers: Resolvers = {
  User: {
    billing: (user, _args, ctx) => {
      requireSelfOrAdmin(ctx, user.id);
      return user.billingCustomerId ? ctx.loaders.customer.load(user.billingCustomerId) : null;
    },
    payments: (user, { first, after }, ctx) => {
      requireSelfOrAdmin(ctx, user.id);
      const customerId = user.billingCustomerId;
      const count = checkFirst(first ?? 10);
      if (!customerId) return EMPTY;
      return ctx.services.billing.paymentsPage(customerId, { first: count, after }, ctx.upstream);
    },
  },
  Subscription: {
    paymentUpdated: {
      subscribe: (_parent, { userId }, ctx) => {
        requireSelfOrAdmin(ctx, userId);
        return ctx.pushes.subscribe(paymentTopic(userId));
      },
      resolve: (payment: Payment) => payment,
    },
  },
  Payment: {
    // A federated reference: the owner (from the PaymentIntent's metadata) or an admin may read it.
    // To anyone else a missing payment is refused like another user's, so ids cannot be probed.
    __resolveReference: async (reference, ctx) => {
      const viewer = requireViewer(ctx);
      const payment = await ctx.loaders.payment.load(reference.id);
      if (!viewer.isAdmin && payment?.userId !== viewer.id)
        throw forbidden("You may only access your own user's data");
      return payment;
    },
  },
  PaymentConnection: {
    nodes: (connection) => connection.edges.map((edge) => edge.node),
  },
  Mutation: {
    createPayment: async (_parent, { input }, ctx) => {
      requireSelfOrAdmin(ctx, input.userId);
      if (!Number.isInteger(input.amount) || input.amount < 1 || input.amount > MAX_AMOUNT) {
        throw badUserInput(
          `"amount" must be an integer number of minor units, 1..${MAX_AMOUNT}; got ${input.amount}`,
          'amount',
        );
      }
      const currency = input.currency.toLowerCase();
      if (!CURRENCY.test(currency))
        throw badUserInput(
          `"currency" must be a 3-letter ISO-4217 code; got "${input.currency}"`,
          'currency',
        );
      checkIdempotencyKey(input.idempotencyKey);
      const user = await ctx.loaders.user.load(input.userId);
      if (!user) throw userError('NOT_FOUND', `No user with id "${input.userId}"`);
      if (!user.billingCustomerId)
        throw badUserInput(`User "${input.userId}" has no billing account`, 'userId');
      // A client's key is scoped to the user, so two users can never collide on one Stripe key.
      // Without one, the key is fresh per operation and still covers every retry of this call.
      const idempotencyKey = `junction:${input.userId}:${input.idempotencyKey ?? randomUUID()}`;
      const payment = await ctx.services.billing.createPayment(
        {
          customerId: user.billingCustomerId,
          userId: user.id,
          amount: input.amount,
          currency,
          description: input.description,
          paymentMethod: input.paymentMethod ?? 'pm_card_visa',
        },
        idempotencyKey,
        ctx.upstream,
      );
      return { payment };
    },
  },
};

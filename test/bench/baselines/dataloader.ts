// Baseline 3: the textbook setup — Apollo Server + per-request DataLoaders + undici Pools. Users are
// batched by `GET /users?ids=` (at most 100 ids per call) and every loader memoizes within one
// operation; Stripe has no batch retrieve, so its loaders only deduplicate. No shared cache, no
// retries, no breaker, no rate limits: Junction's pipeline is exactly what this leaves out.
import DataLoader from 'dataloader';
import { Pool } from 'undici';
import {
  displayName,
  env,
  startApolloBaseline,
  typeDefs,
  upstreamError,
  usersTokenSource,
  verifyClient,
  type WireCustomer,
  type WirePaymentIntent,
  type WireUser,
} from './shared.js';

const poolOptions = {
  connections: env.connections,
  keepAliveTimeout: 30_000,
  headersTimeout: env.timeoutMs,
  bodyTimeout: env.timeoutMs,
};
const usersPool = new Pool(new URL(env.usersUrl).origin, poolOptions);
const stripePool = new Pool(new URL(env.stripeUrl).origin, poolOptions);
const usersToken = usersTokenSource();

async function getJson<T>(
  pool: Pool,
  provider: string,
  path: string,
  authorization: string,
): Promise<T | null> {
  const res = await pool.request({
    method: 'GET',
    path,
    headers: { accept: 'application/json', authorization },
  });
  if (res.statusCode === 404) {
    await res.body.dump();
    return null;
  }
  if (res.statusCode >= 300) {
    await res.body.dump();
    throw upstreamError(provider, res.statusCode);
  }
  return (await res.body.json()) as T;
}

function createLoaders() {
  return {
    user: new DataLoader<string, WireUser | null>(
      async (ids) => {
        const page = await getJson<{ data: WireUser[] }>(
          usersPool,
          'users',
          `/users?ids=${ids.map(encodeURIComponent).join(',')}`,
          `Bearer ${await usersToken()}`,
        );
        const byId = new Map((page?.data ?? []).map((u) => [u.user_id, u]));
        return ids.map((id) => byId.get(id) ?? null);
      },
      { maxBatchSize: 100 },
    ),
    customer: new DataLoader<string, WireCustomer | null>((ids) =>
      Promise.all(
        ids.map((id) =>
          getJson<WireCustomer>(
            stripePool,
            'stripe',
            `/v1/customers/${encodeURIComponent(id)}`,
            `Bearer ${env.stripeKey}`,
          )
            .then((c) => (c && !c.deleted ? c : null))
            .catch((error: Error) => error),
        ),
      ),
    ),
    payments: new DataLoader<string, WirePaymentIntent[] | null, string>((keys) =>
      Promise.all(
        keys.map((key) => {
          const [customer = '', limit = '10'] = key.split('|');
          return getJson<{ data: WirePaymentIntent[] }>(
            stripePool,
            'stripe',
            `/v1/payment_intents?customer=${encodeURIComponent(customer)}&limit=${limit}`,
            `Bearer ${env.stripeKey}`,
          )
            .then((list) => list?.data ?? [])
            .catch((error: Error) => error);
        }),
      ),
    ),
  };
}

interface Context {
  loaders: ReturnType<typeof createLoaders>;
}

const resolvers = {
  Query: {
    user: (_: unknown, { id }: { id: string }, ctx: Context) => ctx.loaders.user.load(id),
    users: async (_: unknown, { first }: { first: number }, ctx: Context) => {
      const page = await getJson<{ data: WireUser[] }>(
        usersPool,
        'users',
        `/users?limit=${first}`,
        `Bearer ${await usersToken()}`,
      );
      const nodes = page?.data ?? [];
      for (const u of nodes) ctx.loaders.user.prime(u.user_id, u);
      return { nodes };
    },
  },
  User: {
    id: (u: WireUser) => u.user_id,
    email: (u: WireUser) => u.email_address,
    name: displayName,
    billing: (u: WireUser, _: unknown, ctx: Context) =>
      u.stripe_customer_id ? ctx.loaders.customer.load(u.stripe_customer_id) : null,
    payments: async (u: WireUser, { first }: { first: number }, ctx: Context) => ({
      nodes: u.stripe_customer_id ? await ctx.loaders.payments.load(`${u.stripe_customer_id}|${first}`) : [],
    }),
  },
};

await startApolloBaseline<Context>({ typeDefs, resolvers }, async (authorization) => {
  await verifyClient(authorization);
  return { loaders: createLoaders() };
});

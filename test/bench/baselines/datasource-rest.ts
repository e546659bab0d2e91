// Baseline 2: Apollo Server with @apollo/datasource-rest, as its docs recommend: one RESTDataSource
// per upstream, created per operation (so identical GETs in one operation are deduplicated), sharing
// one process-wide KeyValueCache for its HTTP cache (which honours the providers' Cache-Control:
// the users service says `private`, Stripe `no-store`, so in practice nothing is shared). Auth in
// willSendRequest, a per-call timeout, keep-alive sockets capped per origin.
import { Agent as HttpAgent } from 'node:http';
import { createRequire } from 'node:module';
import { type AugmentedRequest, RESTDataSource } from '@apollo/datasource-rest';
import { InMemoryLRUCache, type KeyValueCache } from '@apollo/utils.keyvaluecache';
import {
  displayName,
  env,
  startApolloBaseline,
  typeDefs,
  usersTokenSource,
  verifyClient,
  type WireCustomer,
  type WirePaymentIntent,
  type WireUser,
} from './shared.js';

// RESTDataSource's default fetcher is (its own copy of) node-fetch 2 over node:http; give it the same
// per-origin socket cap every system gets (Node's global agent would be unbounded).
const fromDataSource = createRequire(createRequire(import.meta.url).resolve('@apollo/datasource-rest'));
const nodeFetch: any = fromDataSource('node-fetch');
const agent = new HttpAgent({ keepAlive: true, maxSockets: env.connections });
const fetcher: any = (url: string, init: Record<string, unknown>) => nodeFetch(url, { ...init, agent });

const usersToken = usersTokenSource();

class UsersAPI extends RESTDataSource {
  override baseURL = `${env.usersUrl}/`;

  override async willSendRequest(_path: string, request: AugmentedRequest) {
    request.headers.authorization = `Bearer ${await usersToken()}`;
    (request as { signal?: AbortSignal }).signal = AbortSignal.timeout(env.timeoutMs);
  }

  async getUser(id: string): Promise<WireUser | null> {
    try {
      return await this.get<WireUser>(`users/${encodeURIComponent(id)}`);
    } catch (error) {
      if ((error as { extensions?: { response?: { status?: number } } }).extensions?.response?.status === 404)
        return null;
      throw error;
    }
  }

  async listUsers(limit: number): Promise<WireUser[]> {
    const page = await this.get<{ data: WireUser[] }>('users', { params: { limit: String(limit) } });
    return page.data;
  }
}

class StripeAPI extends RESTDataSource {
  override baseURL = `${env.stripeUrl}/`;

  override willSendRequest(_path: string, request: AugmentedRequest) {
    request.headers.authorization = `Bearer ${env.stripeKey}`;
    (request as { signal?: AbortSignal }).signal = AbortSignal.timeout(env.timeoutMs);
  }

  async getCustomer(id: string): Promise<WireCustomer | null> {
    const c = await this.get<WireCustomer>(`v1/customers/${encodeURIComponent(id)}`);
    return c.deleted ? null : c;
  }

  async listPayments(customer: string, limit: number): Promise<WirePaymentIntent[]> {
    const list = await this.get<{ data: WirePaymentIntent[] }>('v1/payment_intents', {
      params: { customer, limit: String(limit) },
    });
    return list.data;
  }
}

interface Context {
  dataSources: { users: UsersAPI; stripe: StripeAPI };
}

const cache = new InMemoryLRUCache<string>();

const resolvers = {
  Query: {
    user: (_: unknown, { id }: { id: string }, ctx: Context) => ctx.dataSources.users.getUser(id),
    users: async (_: unknown, { first }: { first: number }, ctx: Context) => ({
      nodes: await ctx.dataSources.users.listUsers(first),
    }),
  },
  User: {
    id: (u: WireUser) => u.user_id,
    email: (u: WireUser) => u.email_address,
    name: displayName,
    billing: (u: WireUser, _: unknown, ctx: Context) =>
      u.stripe_customer_id ? ctx.dataSources.stripe.getCustomer(u.stripe_customer_id) : null,
    payments: async (u: WireUser, { first }: { first: number }, ctx: Context) => ({
      nodes: u.stripe_customer_id
        ? await ctx.dataSources.stripe.listPayments(u.stripe_customer_id, first)
        : [],
    }),
  },
};

await startApolloBaseline<Context>(
  { typeDefs, resolvers },
  async (authorization) => {
    await verifyClient(authorization);
    const config = { cache: cache as KeyValueCache, fetch: fetcher };
    return { dataSources: { users: new UsersAPI(config), stripe: new StripeAPI(config) } };
  },
  { clearCache: () => cache.clear() },
);

// Baseline 1: plain Apollo Server resolvers that call `fetch` once per item — the N+1 shape most
// GraphQL-over-REST code starts as. Written carefully otherwise: keep-alive (Node's fetch), a
// per-call timeout, the OAuth token cached, 404 as null, other failures as field errors.
import { Agent, setGlobalDispatcher } from 'undici';
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

// Node's global fetch, with the same sockets-per-origin cap every system gets.
setGlobalDispatcher(new Agent({ connections: env.connections, keepAliveTimeout: 30_000 }));

const usersToken = usersTokenSource();

async function getJson<T>(provider: string, url: string, authorization: string): Promise<T | null> {
  const res = await fetch(url, {
    headers: { accept: 'application/json', authorization },
    signal: AbortSignal.timeout(env.timeoutMs),
  });
  if (res.status === 404) {
    await res.arrayBuffer();
    return null;
  }
  if (!res.ok) {
    await res.arrayBuffer();
    throw upstreamError(provider, res.status);
  }
  return (await res.json()) as T;
}

const users = async (path: string) =>
  getJson<any>('users', `${env.usersUrl}${path}`, `Bearer ${await usersToken()}`);
const stripe = (path: string) => getJson<any>('stripe', `${env.stripeUrl}${path}`, `Bearer ${env.stripeKey}`);

const resolvers = {
  Query: {
    user: async (_: unknown, { id }: { id: string }) =>
      (await users(`/users/${encodeURIComponent(id)}`)) as WireUser | null,
    users: async (_: unknown, { first }: { first: number }) => {
      const page = (await users(`/users?limit=${first}`)) as { data: WireUser[] };
      return { nodes: page.data };
    },
  },
  User: {
    id: (u: WireUser) => u.user_id,
    email: (u: WireUser) => u.email_address,
    name: displayName,
    billing: async (u: WireUser) => {
      if (!u.stripe_customer_id) return null;
      const c = (await stripe(
        `/v1/customers/${encodeURIComponent(u.stripe_customer_id)}`,
      )) as WireCustomer | null;
      return c && !c.deleted ? c : null;
    },
    payments: async (u: WireUser, { first }: { first: number }) => {
      if (!u.stripe_customer_id) return { nodes: [] };
      const list = (await stripe(
        `/v1/payment_intents?customer=${encodeURIComponent(u.stripe_customer_id)}&limit=${first}`,
      )) as { data: WirePaymentIntent[] };
      return { nodes: list.data };
    },
  },
};

await startApolloBaseline({ typeDefs, resolvers }, async (authorization) => {
  await verifyClient(authorization);
  return {};
});

// What every baseline shares: the GraphQL shape the scenarios query, the upstream endpoints and
// credentials (from the environment the runner sets), the users service's OAuth2 client-credentials
// token (cached until shortly before it expires, one refresh in flight), client JWT verification
// (the same HS256 check Junction does), and the child-process bootstrap.
import { ApolloServer, type ApolloServerOptions, type BaseContext } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { GraphQLError } from 'graphql';
import { jwtVerify } from 'jose';
import { failStartup, serveParent } from '../lib/child.js';

/** The subset of Junction's schema the scenarios use, with the same names and nesting. */
export const typeDefs = /* GraphQL */ `
  type Query {
    user(id: ID!): User
    users(first: Int = 20): UserConnection
  }
  type UserConnection {
    nodes: [User!]!
  }
  type User {
    id: ID!
    email: String!
    name: String!
    billing: Customer
    payments(first: Int = 10): PaymentConnection
  }
  type Customer {
    id: ID!
    email: String
  }
  type PaymentConnection {
    nodes: [Payment!]!
  }
  type Payment {
    id: ID!
    amount: Int!
    status: String!
  }
`;

/** The users service's wire record (snake_case). */
export interface WireUser {
  user_id: string;
  email_address: string;
  first_name: string;
  last_name: string;
  stripe_customer_id?: string | null;
}

export interface WireCustomer {
  id: string;
  email: string | null;
  deleted?: boolean;
}

export interface WirePaymentIntent {
  id: string;
  amount: number;
  status: string;
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
}

export const env = {
  usersUrl: required('USERS_API_URL'),
  usersTokenUrl: required('USERS_TOKEN_URL'),
  usersClientId: required('USERS_CLIENT_ID'),
  usersClientSecret: required('USERS_CLIENT_SECRET'),
  stripeUrl: required('STRIPE_API_BASE'),
  stripeKey: required('STRIPE_SECRET_KEY'),
  jwtSecret: required('JWT_SECRET'),
  /** Sockets per upstream origin. */
  connections: Number(process.env.UPSTREAM_CONNECTIONS ?? 32),
  /** Limit of one upstream call, in ms. */
  timeoutMs: Number(process.env.UPSTREAM_TIMEOUT_MS ?? 5000),
};

/** OAuth2 client credentials: one token for the process, refreshed 30 s before it expires. */
export function usersTokenSource(): () => Promise<string> {
  let token: { value: string; expiresAt: number } | undefined;
  let inflight: Promise<string> | undefined;
  const fetchToken = async (): Promise<string> => {
    const basic = Buffer.from(`${env.usersClientId}:${env.usersClientSecret}`).toString('base64');
    const res = await fetch(env.usersTokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${basic}` },
      body: 'grant_type=client_credentials',
      signal: AbortSignal.timeout(env.timeoutMs),
    });
    if (!res.ok) throw new Error(`users token endpoint answered ${res.status}`);
    const body = (await res.json()) as { access_token: string; expires_in: number };
    token = { value: body.access_token, expiresAt: Date.now() + (body.expires_in - 30) * 1000 };
    return body.access_token;
  };
  return () => {
    if (token && Date.now() < token.expiresAt) return Promise.resolve(token.value);
    inflight ??= fetchToken().finally(() => {
      inflight = undefined;
    });
    return inflight;
  };
}

const secret = new TextEncoder().encode(env.jwtSecret);

/** The client's bearer JWT, checked as Junction checks it (HS256, same secret). */
export async function verifyClient(authorization: string | undefined): Promise<void> {
  const token = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
  if (!token) throw unauthenticated();
  try {
    await jwtVerify(token, secret, { algorithms: ['HS256'] });
  } catch {
    throw unauthenticated();
  }
}

function unauthenticated(): GraphQLError {
  return new GraphQLError('Invalid bearer token', {
    extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } },
  });
}

/** A failed upstream call, as a GraphQL error on the field that made it. */
export function upstreamError(provider: string, status: number): GraphQLError {
  return new GraphQLError(`${provider} answered ${status}`, {
    extensions: { code: 'UPSTREAM_ERROR', provider, upstreamStatus: status },
  });
}

export const displayName = (u: WireUser) => `${u.first_name} ${u.last_name}`.trim();

export interface BaselineHooks {
  /** Drops whatever shared cache the baseline has (most have none). */
  clearCache?: () => void;
}

/** Starts an Apollo Server (standalone, the textbook setup) in this child and serves the runner. */
export async function startApolloBaseline<TContext extends BaseContext>(
  options: ApolloServerOptions<TContext>,
  context: (authorization: string | undefined) => Promise<TContext>,
  hooks: BaselineHooks = {},
): Promise<void> {
  try {
    const server = new ApolloServer<TContext>(options);
    let cold = false;
    const clear = hooks.clearCache ?? (() => undefined);
    const { url } = await startStandaloneServer(server, {
      listen: { port: 0, host: '127.0.0.1' },
      context: async ({ req }) => {
        // Cold mode only matters for a baseline with a shared cache: empty it before each operation.
        if (cold) clear();
        return context(req.headers.authorization);
      },
    });
    serveParent(
      { url: url.replace(/\/$/, '') },
      {
        clearCache: () => {
          clear();
          return true;
        },
        setCold: (m) => {
          cold = m.on === true;
          if (cold) clear();
          return cold;
        },
        stats: () => ({ rss: process.memoryUsage().rss, cold }),
      },
      () => server.stop(),
    );
  } catch (error) {
    failStartup(error);
  }
}

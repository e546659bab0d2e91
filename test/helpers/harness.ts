// Test harness: a real Junction on a loopback port over real simulators, plus a tiny GraphQL client.
import { type App, buildApp } from '../../src/app.js';
import { mintToken } from '../../src/cli/token.js';
import { DEMO_JWT_SECRET, loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/observability/logger.js';
import {
  createUsersSimulator,
  type UsersSimulator,
  type UsersSimulatorOptions,
} from '../../src/simulators/users/simulator.js';

export interface GraphQLResponse {
  status: number;
  headers: Headers;
  body: { data?: any; errors?: any[]; extensions?: any };
  text: string;
}

export interface Harness {
  url: string;
  app: App;
  users: UsersSimulator;
  token(sub: string, opts?: { admin?: boolean }): Promise<string>;
  adminToken(): Promise<string>;
  gql<T = any>(
    query: string,
    opts?: { variables?: Record<string, unknown>; token?: string | null; headers?: Record<string, string> },
  ): Promise<GraphQLResponse>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  env?: Record<string, string>;
  users?: UsersSimulatorOptions;
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const users = createUsersSimulator({ seedCount: 1000, ...options.users });
  const usersUrl = await users.start();
  const env = {
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    USERS_API_URL: usersUrl,
    USERS_TOKEN_URL: `${usersUrl}/oauth/token`,
    USERS_CLIENT_ID: users.credentials.clientId,
    USERS_CLIENT_SECRET: users.credentials.clientSecret,
    ...options.env,
  };
  const config = loadConfig(env);
  const app = await buildApp({
    config,
    endpoints: {
      users: {
        mode: 'remote',
        apiUrl: usersUrl,
        tokenUrl: env.USERS_TOKEN_URL,
        clientId: env.USERS_CLIENT_ID,
        clientSecret: env.USERS_CLIENT_SECRET,
      },
    },
    logger: createLogger('silent'),
  });
  await app.server.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.server.address() as { port: number };
  const url = `http://127.0.0.1:${address.port}`;
  const secret = config.jwt.secret ?? DEMO_JWT_SECRET;
  const token = (sub: string, opts: { admin?: boolean } = {}) =>
    mintToken(secret, { sub, admin: opts.admin ?? false });
  let admin: string | undefined;
  const adminToken = async () => {
    admin ??= await token('usr_0001', { admin: true });
    return admin;
  };
  return {
    url,
    app,
    users,
    token,
    adminToken,
    async gql(query, opts = {}) {
      const headers: Record<string, string> = { 'content-type': 'application/json', ...opts.headers };
      const bearer = opts.token === undefined ? await adminToken() : opts.token;
      if (bearer) headers.authorization = `Bearer ${bearer}`;
      const res = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ query, variables: opts.variables }),
      });
      const text = await res.text();
      return { status: res.status, headers: res.headers, body: JSON.parse(text), text };
    },
    async close() {
      await app.close();
      await users.close();
    },
  };
}

/** Batch calls (`GET /users?ids=`) the users simulator has seen. */
export function batchCalls(users: UsersSimulator) {
  return users.requests.filter((r) => r.route === 'GET /users' && r.query.has('ids'));
}

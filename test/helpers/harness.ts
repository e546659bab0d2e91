// Test harness: a real Junction on a loopback port over real simulators (all four providers, with
// their webhooks wired back to it), plus a tiny GraphQL-over-HTTP client.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { openAccountsDatabase, openOnFirstUse } from '../../src/accounts/connectedAccounts.js';
import type { KeyRing } from '../../src/accounts/crypto.js';
import type { Sql } from '../../src/accounts/database.js';
import { type App, buildApp } from '../../src/app.js';
import { mintToken } from '../../src/cli/token.js';
import { type Config, loadConfig } from '../../src/config.js';
import { asSectionValues, type Fields, plainValues } from '../../src/configSchema.js';
import { createLogger } from '../../src/observability/logger.js';
import type { Tracing } from '../../src/observability/tracing.js';
import type { ProviderEndpoint, RemoteValues } from '../../src/providers/module.js';
import { type ProviderName, providerModules, SIMULATORS } from '../../src/providers/registry.js';
import type { ProviderEndpoints } from '../../src/services.js';
import type { GitHubSimulator, GitHubSimulatorOptions } from '../../src/simulators/github/simulator.js';
import type { SendGridSimulator, SendGridSimulatorOptions } from '../../src/simulators/sendgrid/simulator.js';
import type { StripeSimulator, StripeSimulatorOptions } from '../../src/simulators/stripe/simulator.js';
import type { TwilioSimulator, TwilioSimulatorOptions } from '../../src/simulators/twilio/simulator.js';
import type { UsersSimulator, UsersSimulatorOptions } from '../../src/simulators/users/simulator.js';
import { freshPgliteDir } from '../unit/accounts/support/databases.js';

export interface GraphQLResponse {
  status: number;
  headers: Headers;
  body: { data?: any; errors?: any[]; extensions?: any };
  text: string;
}

export interface Harness {
  url: string;
  app: App;
  /** Where each provider is (the simulators): another Junction over the same providers can use them. */
  endpoints: ProviderEndpoints;
  /** The configuration this Junction runs with. */
  config: Config;
  users: UsersSimulator;
  stripe: StripeSimulator;
  twilio: TwilioSimulator;
  sendgrid: SendGridSimulator;
  github: GitHubSimulator;
  stripeWebhookSecret: string;
  githubWebhookSecret: string;
  /** The HS256 secret this Junction verifies client tokens with (random per harness). */
  jwtSecret: string;
  /** PEM private key of the SendGrid event webhook (Junction holds its public half). */
  sendgridWebhookPrivateKey: string;
  token(sub: string, opts?: { admin?: boolean; ttlSeconds?: number }): Promise<string>;
  adminToken(): Promise<string>;
  gql(
    query: string,
    opts?: { variables?: Record<string, unknown>; token?: string | null; headers?: Record<string, string> },
  ): Promise<GraphQLResponse>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  env?: Record<string, string>;
  users?: UsersSimulatorOptions;
  stripe?: StripeSimulatorOptions;
  twilio?: TwilioSimulatorOptions;
  sendgrid?: SendGridSimulatorOptions;
  github?: GitHubSimulatorOptions;
  /**
   * Connected accounts' database. Default: an embedded PGlite copied from a template on first use
   * (so a test that never touches connected accounts never opens one), removed on close.
   */
  accountsDatabase?: Sql;
  /** Connected accounts' key ring. Default: a key for this harness only. */
  accountKeys?: KeyRing;
  /** Seeded users for the Stripe and Twilio simulators. Default 1000. */
  seedUsers?: number;
  /** Default: a silent logger. */
  logger?: Logger;
  /** Default: built from the env's OTEL_* variables (none unless set). */
  tracing?: Tracing;
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const seedUsers = options.seedUsers ?? 1000;
  // Every provider of the registry on its simulator, started the way demo mode starts it.
  const simulatorOptions: Record<ProviderName, object | undefined> = {
    users: { seedCount: 1000, ...options.users },
    stripe: { seedUsers, ...options.stripe },
    twilio: { seedUsers, ...options.twilio },
    sendgrid: options.sendgrid,
    github: options.github,
  };
  const env: Record<string, string> = { NODE_ENV: 'test', LOG_LEVEL: 'silent', ...options.env };
  const production = env.NODE_ENV === 'production';
  const demoSecret = randomBytes(32).toString('base64url');
  // Settings first (the simulators read some, e.g. webhook secrets), from what the test gave.
  const settingsEnv: Record<string, string> = { ...env, NODE_ENV: 'test', HOST: '127.0.0.1' };
  for (const module of providerModules)
    for (const variable of Object.values(module.config.remote)) delete settingsEnv[variable.name];
  const settings = loadConfig(settingsEnv, undefined, { demoJwtSecret: () => demoSecret }).providers;
  const settingsOf = (name: ProviderName) => plainValues(settings[name].settings);
  const [users, stripe, twilio, sendgrid, github] = await Promise.all([
    SIMULATORS.users().then((m) =>
      m.startDemo({ faults: [], settings: settingsOf('users'), simulator: simulatorOptions.users }),
    ),
    SIMULATORS.stripe().then((m) =>
      m.startDemo({ faults: [], settings: settingsOf('stripe'), simulator: simulatorOptions.stripe }),
    ),
    SIMULATORS.twilio().then((m) =>
      m.startDemo({ faults: [], settings: settingsOf('twilio'), simulator: simulatorOptions.twilio }),
    ),
    SIMULATORS.sendgrid().then((m) =>
      m.startDemo({ faults: [], settings: settingsOf('sendgrid'), simulator: simulatorOptions.sendgrid }),
    ),
    SIMULATORS.github().then((m) =>
      m.startDemo({ faults: [], settings: settingsOf('github'), simulator: simulatorOptions.github }),
    ),
  ]);
  const demos = { users, stripe, twilio, sendgrid, github };
  // Each provider points at its simulator; a remote variable the test sets (a client secret, say)
  // replaces the simulator's value. Outside production Junction runs as demo mode would (the
  // simulators are endpoints, not configuration), so the demo token exists, with a random secret;
  // production runs see every remote variable, as a deployment would.
  const configEnv: Record<string, string> = { ...env };
  const endpoints: Record<string, ProviderEndpoint> = {};
  for (const module of providerModules) {
    const name = module.name as ProviderName;
    const demo = demos[name];
    const remote: Record<string, unknown> = { ...demo.remote };
    for (const [key, variable] of Object.entries(module.config.remote)) {
      const given = env[variable.name];
      if (given !== undefined) remote[key] = given;
      if (production) configEnv[variable.name] = String(remote[key]);
      else delete configEnv[variable.name];
    }
    endpoints[name] = {
      mode: 'remote',
      remote: asSectionValues(module.config.remote, remote) as RemoteValues<Fields>,
      settings: {},
    };
  }
  const config = loadConfig(configEnv, undefined, { demoJwtSecret: () => demoSecret });
  for (const module of providerModules) {
    const name = module.name as ProviderName;
    const endpoint = endpoints[name]!;
    endpoint.settings = {
      ...config.providers[name].settings,
      ...asSectionValues(module.config.settings, demos[name].settings ?? {}),
    };
  }
  let scratch: string | undefined;
  const database =
    options.accountsDatabase ??
    openOnFirstUse('pglite', async () => {
      scratch = mkdtempSync(join(tmpdir(), 'junction-harness-pglite-'));
      return openAccountsDatabase({ databaseUrl: undefined, pgliteDir: await freshPgliteDir(scratch) });
    });
  const app = await buildApp({
    config,
    endpoints: endpoints as ProviderEndpoints,
    logger: options.logger ?? createLogger('silent'),
    tracing: options.tracing,
    accounts: { database, keys: options.accountKeys },
  });
  await app.server.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.server.address() as { port: number };
  const url = `http://127.0.0.1:${address.port}`;
  app.setPublicBaseUrl(url);
  for (const demo of Object.values(demos)) demo.connectWebhooks?.(url);

  const jwtSecret = config.jwt.secret?.current();
  if (jwtSecret === undefined) throw new Error('harness: client tokens need an HS256 secret');
  const token = (sub: string, opts: { admin?: boolean; ttlSeconds?: number } = {}) =>
    mintToken(jwtSecret, {
      sub,
      admin: opts.admin ?? false,
      ...(opts.ttlSeconds ? { ttlSeconds: opts.ttlSeconds } : {}),
    });
  let admin: string | undefined;
  const adminToken = async () => {
    admin ??= await token('usr_0001', { admin: true });
    return admin;
  };
  return {
    url,
    app,
    endpoints: endpoints as ProviderEndpoints,
    config,
    users: users.simulator,
    stripe: stripe.simulator,
    twilio: twilio.simulator,
    sendgrid: sendgrid.simulator,
    github: github.simulator,
    stripeWebhookSecret: stripe.webhookSecret,
    githubWebhookSecret: github.webhookSecret,
    jwtSecret,
    sendgridWebhookPrivateKey: sendgrid.webhookPrivateKey,
    token,
    adminToken,
    gql: (query, opts = {}) => gqlAt(url, query, opts, adminToken),
    async close() {
      await app.close();
      await Promise.all(Object.values(demos).map((d) => d.simulator.close()));
      if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
    },
  };
}

/** Another Junction (a replica) over the same simulators, with the same configuration and client-token secret. */
export interface Peer {
  url: string;
  app: App;
  gql: Harness['gql'];
  close(): Promise<void>;
}

/**
 * Starts a replica of `h`'s Junction in this process: same config (so the same REDIS_URL and key
 * prefix, when set) and endpoints, its own port, pools, caches and shared-state connection, and its
 * own connected-accounts database (an empty PGlite, opened on first use). Webhooks from the
 * simulators still go to `h`; post them to a peer's URL yourself. Close peers before `h`.
 */
export async function startPeer(
  h: Harness,
  options: { env?: Record<string, string>; logger?: Logger } = {},
): Promise<Peer> {
  const config =
    options.env === undefined
      ? h.config
      : loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', ...options.env }, undefined, {
          demoJwtSecret: () => h.jwtSecret,
        });
  let scratch: string | undefined;
  const database = openOnFirstUse('pglite', async () => {
    scratch = mkdtempSync(join(tmpdir(), 'junction-peer-pglite-'));
    return openAccountsDatabase({ databaseUrl: undefined, pgliteDir: await freshPgliteDir(scratch) });
  });
  const app = await buildApp({
    config,
    endpoints: h.endpoints,
    logger: options.logger ?? createLogger('silent'),
    accounts: { database },
  });
  await app.server.listen({ port: 0, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${(app.server.server.address() as { port: number }).port}`;
  app.setPublicBaseUrl(url);
  return {
    url,
    app,
    gql: (query, opts = {}) => gqlAt(url, query, opts, h.adminToken),
    async close() {
      await app.close();
      if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
    },
  };
}

async function gqlAt(
  url: string,
  query: string,
  opts: { variables?: Record<string, unknown>; token?: string | null; headers?: Record<string, string> },
  adminToken: () => Promise<string>,
): Promise<GraphQLResponse> {
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
}

/** Calls that fetched users by id (`GET /users?ids=` batches and `GET /users/{id}`) the simulator has seen. */
export function batchCalls(users: UsersSimulator) {
  return users.requests.filter(
    (r) => (r.route === 'GET /users' && r.query.has('ids')) || r.route === 'GET /users/:id',
  );
}

/** Fault match for every users-by-id route (batch and single). */
export const USER_FETCHES = { path: /^\/users/ } as const;

// Test harness: a real Junction on a loopback port over real simulators (all four providers, with
// their webhooks wired back to it), plus a tiny GraphQL-over-HTTP client.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { type App, buildApp } from '../../src/app.js';
import { mintToken } from '../../src/cli/token.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/observability/logger.js';
import {
  createSendGridSimulator,
  type SendGridSimulator,
  type SendGridSimulatorOptions,
} from '../../src/simulators/sendgrid/simulator.js';
import { generateEventWebhookKeyPair } from '../../src/simulators/sendgrid/webhooks.js';
import {
  createStripeSimulator,
  type StripeSimulator,
  type StripeSimulatorOptions,
} from '../../src/simulators/stripe/simulator.js';
import {
  createTwilioSimulator,
  type TwilioSimulator,
  type TwilioSimulatorOptions,
} from '../../src/simulators/twilio/simulator.js';
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
  stripe: StripeSimulator;
  twilio: TwilioSimulator;
  sendgrid: SendGridSimulator;
  stripeWebhookSecret: string;
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
  /** Seeded users for the Stripe and Twilio simulators. Default 1000. */
  seedUsers?: number;
  /** Default: a silent logger. */
  logger?: Logger;
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const seedUsers = options.seedUsers ?? 1000;
  const users = createUsersSimulator({ seedCount: 1000, ...options.users });
  const stripe = createStripeSimulator({ seedUsers, ...options.stripe });
  const twilio = createTwilioSimulator({ seedUsers, ...options.twilio });
  const sendgrid = createSendGridSimulator({ ...options.sendgrid });
  const [usersUrl, stripeUrl, twilioUrl, sendgridUrl] = await Promise.all([
    users.start(),
    stripe.start(),
    twilio.start(),
    sendgrid.start(),
  ]);
  const stripeWebhookSecret = 'whsec_harness_secret';
  const sendgridKeys = generateEventWebhookKeyPair();
  const env = {
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    USERS_API_URL: usersUrl,
    USERS_TOKEN_URL: `${usersUrl}/oauth/token`,
    USERS_CLIENT_ID: users.credentials.clientId,
    USERS_CLIENT_SECRET: users.credentials.clientSecret,
    ...options.env,
  };
  // Outside production the harness runs Junction as demo mode would (the simulators are given as
  // endpoints, not configured), so the demo token exists; its secret is random per harness.
  // Production runs get the users variables and bring their own JWT_SECRET.
  const configEnv: Record<string, string> = { ...env };
  if (env.NODE_ENV !== 'production') {
    for (const name of ['USERS_API_URL', 'USERS_TOKEN_URL', 'USERS_CLIENT_ID', 'USERS_CLIENT_SECRET'])
      delete configEnv[name];
  }
  const demoSecret = randomBytes(32).toString('base64url');
  const config = loadConfig(configEnv, undefined, { demoJwtSecret: () => demoSecret });
  const app = await buildApp({
    config,
    endpoints: {
      users: {
        mode: 'remote',
        apiUrl: env.USERS_API_URL,
        tokenUrl: env.USERS_TOKEN_URL,
        clientId: env.USERS_CLIENT_ID,
        clientSecret: env.USERS_CLIENT_SECRET,
      },
      stripe: {
        mode: 'remote',
        apiBase: stripeUrl,
        secretKey: stripe.secretKey,
        webhookSecrets: [stripeWebhookSecret],
      },
      twilio: {
        mode: 'remote',
        apiBase: twilioUrl,
        accountSid: twilio.accountSid,
        authToken: twilio.authToken,
        fromNumber: twilio.fromNumber,
        publicBaseUrl: '',
      },
      sendgrid: {
        mode: 'remote',
        apiBase: sendgridUrl,
        apiKey: sendgrid.apiKey,
        fromEmail: 'noreply@junction.test',
        webhookPublicKey: sendgridKeys.publicKey,
      },
    },
    logger: options.logger ?? createLogger('silent'),
  });
  await app.server.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.server.address() as { port: number };
  const url = `http://127.0.0.1:${address.port}`;
  app.setPublicBaseUrl(url);
  stripe.setWebhook({ url: `${url}/webhooks/stripe`, secret: stripeWebhookSecret });
  sendgrid.setEventWebhook({ url: `${url}/webhooks/sendgrid`, privateKey: sendgridKeys.privateKeyPem });

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
    users,
    stripe,
    twilio,
    sendgrid,
    stripeWebhookSecret,
    jwtSecret,
    sendgridWebhookPrivateKey: sendgridKeys.privateKeyPem,
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
      await Promise.all([users.close(), stripe.close(), twilio.close(), sendgrid.close()]);
    },
  };
}

/** Calls that fetched users by id (`GET /users?ids=` batches and `GET /users/{id}`) the simulator has seen. */
export function batchCalls(users: UsersSimulator) {
  return users.requests.filter(
    (r) => (r.route === 'GET /users' && r.query.has('ids')) || r.route === 'GET /users/:id',
  );
}

/** Fault match for every users-by-id route (batch and single). */
export const USER_FETCHES = { path: /^\/users/ } as const;

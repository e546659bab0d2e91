// Secrets rotated while Junction serves traffic, against the four simulators: every provider
// credential, every webhook secret and the client JWT secret are files (`*_FILE`), rewritten one
// after another while GraphQL operations run in a loop. No operation and no webhook delivery may
// fail; each provider must see the new credential afterwards; each change is logged once, by name,
// never by value. The replaced webhook secrets and JWT secret are accepted during their grace
// period and refused after it (the secrets' clock is injected; signature timestamps use real time).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, buildApp } from '../../src/app.js';
import { mintToken } from '../../src/cli/token.js';
import { loadConfig } from '../../src/config.js';
import { startProviders } from '../../src/demo.js';
import { createSendGridSimulator, type SendGridSimulator } from '../../src/simulators/sendgrid/simulator.js';
import {
  generateEventWebhookKeyPair,
  SIGNATURE_HEADER,
  signEventPayload,
  TIMESTAMP_HEADER,
} from '../../src/simulators/sendgrid/webhooks.js';
import { createStripeSimulator, type StripeSimulator } from '../../src/simulators/stripe/simulator.js';
import { stripeSignatureHeader } from '../../src/simulators/stripe/webhooks.js';
import { createTwilioSimulator, type TwilioSimulator } from '../../src/simulators/twilio/simulator.js';
import { twilioSignature } from '../../src/simulators/twilio/webhooks.js';
import { createUsersSimulator, type UsersSimulator } from '../../src/simulators/users/simulator.js';
import { until } from '../helpers/ws.js';

const GRACE_SECONDS = 3600;

let dir: string;
let app: App;
let url: string;
let users: UsersSimulator;
let stripe: StripeSimulator;
let twilio: TwilioSimulator;
let sendgrid: SendGridSimulator;
const logLines: Array<Record<string, unknown> & { msg: string }> = [];
let rawLog = '';
/** The secrets' clock (grace periods only; signatures use real time): still until the test moves it. */
const startedAt = Date.now();
let offsetMs = 0;

const secrets = {
  jwt: `jwt-old-${randomBytes(24).toString('hex')}`,
  usersClient: 'users-client-old',
  stripeKey: 'sk_test_rotation_old',
  stripeWebhook: 'whsec_rotation_old',
  twilioToken: randomBytes(16).toString('hex'),
  sendgridKey: 'SG.rotation-old',
  sendgridWebhook: generateEventWebhookKeyPair(),
};
const fresh = {
  jwt: `jwt-new-${randomBytes(24).toString('hex')}`,
  usersClient: 'users-client-new',
  stripeKey: 'sk_test_rotation_new',
  stripeWebhook: 'whsec_rotation_new',
  twilioToken: randomBytes(16).toString('hex'),
  sendgridKey: 'SG.rotation-new',
  sendgridWebhook: generateEventWebhookKeyPair(),
};

/** Rewrites a secret file as secret managers do: a new file renamed over the old one. */
function writeSecret(name: string, value: string): void {
  const temporary = join(dir, `.${name}.tmp`);
  writeFileSync(temporary, `${value}\n`);
  renameSync(temporary, join(dir, name));
}

const changedLines = (variable: string) =>
  logLines.filter((l) => l.secret === variable && l.msg.includes('changed'));

async function gql(query: string, token: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query }),
  });
  return { status: res.status, body: await res.json() };
}

const basicPassword = (authorization: unknown) =>
  Buffer.from(String(authorization).replace(/^Basic /, ''), 'base64')
    .toString('utf8')
    .split(':')
    .slice(1)
    .join(':');

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'junction-rotation-'));
  users = createUsersSimulator({ seedCount: 50, clientSecret: secrets.usersClient });
  stripe = createStripeSimulator({ seedUsers: 50, secretKey: secrets.stripeKey });
  twilio = createTwilioSimulator({ seedUsers: 50, authToken: secrets.twilioToken, statusDelaysMs: [5, 10] });
  sendgrid = createSendGridSimulator({ apiKey: secrets.sendgridKey });
  const [usersUrl, stripeUrl, twilioUrl, sendgridUrl] = await Promise.all([
    users.start(),
    stripe.start(),
    twilio.start(),
    sendgrid.start(),
  ]);
  writeSecret('jwt', secrets.jwt);
  writeSecret('users-client', secrets.usersClient);
  writeSecret('stripe-key', secrets.stripeKey);
  writeSecret('stripe-webhook', secrets.stripeWebhook);
  writeSecret('twilio-token', secrets.twilioToken);
  writeSecret('sendgrid-key', secrets.sendgridKey);
  writeSecret('sendgrid-webhook', secrets.sendgridWebhook.publicKey);
  const env = {
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    JWT_SECRET_FILE: join(dir, 'jwt'),
    USERS_API_URL: usersUrl,
    USERS_TOKEN_URL: `${usersUrl}/oauth/token`,
    USERS_CLIENT_ID: users.credentials.clientId,
    USERS_CLIENT_SECRET_FILE: join(dir, 'users-client'),
    STRIPE_API_BASE: stripeUrl,
    STRIPE_SECRET_KEY_FILE: join(dir, 'stripe-key'),
    STRIPE_WEBHOOK_SECRET_FILE: join(dir, 'stripe-webhook'),
    TWILIO_API_BASE: twilioUrl,
    TWILIO_ACCOUNT_SID: twilio.accountSid,
    TWILIO_AUTH_TOKEN_FILE: join(dir, 'twilio-token'),
    TWILIO_FROM_NUMBER: twilio.fromNumber,
    PUBLIC_BASE_URL: 'http://127.0.0.1:9', // replaced once Junction listens
    SENDGRID_API_BASE: sendgridUrl,
    SENDGRID_API_KEY_FILE: join(dir, 'sendgrid-key'),
    SENDGRID_FROM_EMAIL: 'noreply@junction.test',
    SENDGRID_WEBHOOK_PUBLIC_KEY_FILE: join(dir, 'sendgrid-webhook'),
    // GitHub configured too (never called here), so no provider runs as a simulator.
    GITHUB_API_BASE: 'http://127.0.0.1:9',
    GITHUB_OAUTH_BASE: 'http://127.0.0.1:9',
    GITHUB_CLIENT_ID: 'Iv1.rotation',
    GITHUB_CLIENT_SECRET: 'github-client-secret',
    WEBHOOK_SECRET_GRACE_SECONDS: String(GRACE_SECONDS),
    JWT_SECRET_GRACE_SECONDS: String(GRACE_SECONDS),
    SECRETS_POLL_INTERVAL_MS: '250',
    CLIENT_RATE_LIMIT_PER_MINUTE: '0',
    // Every query reaches the users service (and so needs its OAuth token): no cached users.
    USERS_CACHE_TTL_SECONDS: '0',
    USERS_CACHE_SWR_SECONDS: '0',
    USERS_CACHE_SIE_SECONDS: '0',
    STRIPE_RATE_LIMIT_PER_SECOND: '10000',
    TWILIO_RATE_LIMIT_PER_SECOND: '10000',
    SENDGRID_RATE_LIMIT_PER_SECOND: '10000',
  };
  const config = loadConfig(env, undefined, { now: () => startedAt + offsetMs });
  const providers = await startProviders(config, {});
  expect(providers.simulators).toEqual([]);
  const logger = pino(
    { level: 'info' },
    {
      write(line: string) {
        rawLog += line;
        logLines.push(JSON.parse(line));
      },
    },
  );
  app = await buildApp({ config, endpoints: providers.endpoints, logger });
  await app.server.listen({ port: 0, host: '127.0.0.1' });
  url = `http://127.0.0.1:${(app.server.server.address() as { port: number }).port}`;
  app.setPublicBaseUrl(url);
  stripe.setWebhook({ url: `${url}/webhooks/stripe`, secret: secrets.stripeWebhook });
  sendgrid.setEventWebhook({
    url: `${url}/webhooks/sendgrid`,
    privateKey: secrets.sendgridWebhook.privateKeyPem,
  });
});

afterAll(async () => {
  await app?.close();
  await Promise.all([users?.close(), stripe?.close(), twilio?.close(), sendgrid?.close()]);
  rmSync(dir, { recursive: true, force: true });
});

describe('secrets rotated mid-traffic', () => {
  it('drops no operation and no webhook while every kind of secret is rotated', async () => {
    const oldToken = await mintToken(secrets.jwt, { sub: 'usr_0001', admin: true, ttlSeconds: 3600 });
    let token = oldToken;
    const operations = [
      '{ user(id: "usr_0002") { id name billing { id } payments(first: 2) { nodes { id } } messages(first: 1) { nodes { id } } } }',
      'mutation { createPayment(input: { userId: "usr_0003", amount: 1200, currency: "usd" }) { payment { id } } }',
      'mutation { sendSms(input: { userId: "usr_0004", body: "rotation" }) { message { id } } }',
      'mutation { sendEmail(input: { userId: "usr_0005", subject: "rotation", text: "hi" }) { receipt { id } } }',
    ];
    const failures: string[] = [];
    let done = 0;
    let running = true;
    const worker = async (offset: number) => {
      for (let i = offset; running; i += 1) {
        try {
          const res = await gql(operations[i % operations.length] as string, token);
          if (res.status !== 200 || res.body.errors)
            failures.push(JSON.stringify(res.body.errors ?? res.status));
        } catch (error) {
          failures.push(String(error));
        }
        done += 1;
      }
    };
    const workers = [0, 1, 2, 3].map(worker);
    try {
      const progress = async (more: number) => {
        const target = done + more;
        await until(() => done >= target, 10_000);
      };
      await progress(20);

      // Users OAuth client secret: the service accepts both, the file changes, the next token is fetched with the new one.
      users.addClientSecret(fresh.usersClient);
      writeSecret('users-client', fresh.usersClient);
      await until(() => changedLines('USERS_CLIENT_SECRET').length === 1);
      await progress(8);
      const tokenCalls = users.requests.filter((r) => r.route === 'POST /oauth/token');
      expect(basicPassword(tokenCalls.at(-1)?.headers.authorization)).toBe(fresh.usersClient);
      users.removeClientSecret(secrets.usersClient);
      users.expireTokens(); // every token issued so far stops working: only the new secret can get one
      await progress(8);

      // Stripe and SendGrid API keys: the provider accepts both until the old one is retired.
      stripe.addApiKey(fresh.stripeKey);
      sendgrid.addApiKey(fresh.sendgridKey);
      writeSecret('stripe-key', fresh.stripeKey);
      writeSecret('sendgrid-key', fresh.sendgridKey);
      await until(
        () => changedLines('STRIPE_SECRET_KEY').length === 1 && changedLines('SENDGRID_API_KEY').length === 1,
      );
      // Requests that took the old key just before the change are done once a few more have run.
      await progress(12);
      const stripeSeen = stripe.requests.length;
      const sendgridSeen = sendgrid.requests.length;
      stripe.removeApiKey(secrets.stripeKey);
      sendgrid.removeApiKey(secrets.sendgridKey);
      await progress(12);
      expect(
        stripe.requests
          .slice(stripeSeen)
          .every((r) => r.headers.authorization === `Bearer ${fresh.stripeKey}`),
      ).toBe(true);
      expect(
        sendgrid.requests
          .slice(sendgridSeen)
          .every((r) => r.headers.authorization === `Bearer ${fresh.sendgridKey}`),
      ).toBe(true);
      expect(sendgrid.requests.length).toBeGreaterThan(sendgridSeen);

      // Twilio: a secondary token, Junction moves to it, then it is promoted (callbacks signed with it from then on).
      twilio.createSecondaryAuthToken(fresh.twilioToken);
      writeSecret('twilio-token', fresh.twilioToken);
      await until(() => changedLines('TWILIO_AUTH_TOKEN').length === 1);
      await progress(8);
      const twilioSeen = twilio.requests.length;
      // Callbacks still signed with the old primary token are accepted: it is within its grace.
      const before = twilio.callbackDeliveries.length;
      await gql(operations[2] as string, token);
      await twilio.flushCallbacks();
      expect(twilio.callbackDeliveries.length).toBeGreaterThan(before);
      twilio.promoteSecondaryAuthToken();
      await progress(8);
      expect(twilio.requests.length).toBeGreaterThan(twilioSeen);
      expect(
        twilio.requests
          .slice(twilioSeen)
          .every((r) => basicPassword(r.headers.authorization) === fresh.twilioToken),
      ).toBe(true);

      // Stripe webhook secret: Junction first, then the sender; deliveries signed with the old one in between verify.
      writeSecret('stripe-webhook', fresh.stripeWebhook);
      await until(() => changedLines('STRIPE_WEBHOOK_SECRET').length === 1);
      const stripeDeliveries = stripe.webhookDeliveries.length;
      await gql(operations[1] as string, token);
      await stripe.flushWebhooks();
      expect(stripe.webhookDeliveries.length).toBeGreaterThan(stripeDeliveries);
      stripe.setWebhook({ url: `${url}/webhooks/stripe`, secret: fresh.stripeWebhook });

      // SendGrid event webhook key: the same order.
      writeSecret('sendgrid-webhook', fresh.sendgridWebhook.publicKey);
      await until(() => changedLines('SENDGRID_WEBHOOK_PUBLIC_KEY').length === 1);
      const sendgridDeliveries = sendgrid.webhookDeliveries.length;
      await gql(operations[3] as string, token);
      await sendgrid.flushWebhooks();
      expect(sendgrid.webhookDeliveries.length).toBeGreaterThan(sendgridDeliveries);
      sendgrid.setEventWebhook({
        url: `${url}/webhooks/sendgrid`,
        privateKey: fresh.sendgridWebhook.privateKeyPem,
      });

      // Client JWT secret: tokens signed with the old one keep working (grace); new ones verify.
      writeSecret('jwt', fresh.jwt);
      await until(() => changedLines('JWT_SECRET').length === 1);
      await progress(8);
      token = await mintToken(fresh.jwt, { sub: 'usr_0001', admin: true, ttlSeconds: 3600 });
      await progress(12);
    } finally {
      running = false;
      await Promise.all(workers);
    }
    await Promise.all([stripe.flushWebhooks(), sendgrid.flushWebhooks(), twilio.flushCallbacks()]);

    expect(failures).toEqual([]);
    expect(done).toBeGreaterThan(100);
    const deliveries = [
      ...stripe.webhookDeliveries,
      ...sendgrid.webhookDeliveries,
      ...twilio.callbackDeliveries,
    ];
    expect(deliveries.length).toBeGreaterThan(10);
    expect(deliveries.filter((d) => !d.ok)).toEqual([]);
    expect(await app.metrics.text()).not.toMatch(/junction_webhooks_rejected_total\{/);

    // One line per change, naming the variable; no value anywhere in the log.
    for (const variable of [
      'USERS_CLIENT_SECRET',
      'STRIPE_SECRET_KEY',
      'SENDGRID_API_KEY',
      'TWILIO_AUTH_TOKEN',
      'STRIPE_WEBHOOK_SECRET',
      'SENDGRID_WEBHOOK_PUBLIC_KEY',
      'JWT_SECRET',
    ])
      expect(changedLines(variable), variable).toHaveLength(1);
    for (const value of [...Object.values(secrets), ...Object.values(fresh)].flatMap((v) =>
      typeof v === 'string' ? [v] : [v.publicKey],
    ))
      expect(rawLog).not.toContain(value);
    expect(await app.metrics.text()).toMatch(
      /junction_secret_reloads_total\{secret="JWT_SECRET",outcome="changed"\} 1/,
    );

    // Old tokens still verify within the grace period...
    expect((await gql('{ me { id } }', oldToken)).status).toBe(200);
  });

  it('refuses the replaced webhook secrets and JWT secret once their grace period is over', async () => {
    const oldToken = await mintToken(secrets.jwt, { sub: 'usr_0001', admin: true, ttlSeconds: 3600 });
    const stripeEvent = JSON.stringify({
      id: `evt_${randomBytes(8).toString('hex')}`,
      object: 'event',
      type: 'customer.updated',
      data: { object: { id: 'cus_x', object: 'customer' } },
    });
    const postStripe = (secret: string) =>
      fetch(`${url}/webhooks/stripe`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'stripe-signature': stripeSignatureHeader(stripeEvent, secret),
        },
        body: stripeEvent,
      });
    const twilioBody = new URLSearchParams({ MessageSid: `SM${'0'.repeat(32)}`, MessageStatus: 'delivered' });
    const postTwilio = (authToken: string) =>
      fetch(`${url}/webhooks/twilio`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'x-twilio-signature': twilioSignature(
            authToken,
            `${url}/webhooks/twilio`,
            Object.fromEntries(twilioBody.entries()),
          ),
        },
        body: twilioBody.toString(),
      });
    const sendgridBody = JSON.stringify([
      { sg_event_id: randomBytes(8).toString('hex'), event: 'delivered' },
    ]);
    const postSendGrid = (privateKeyPem: string) => {
      const timestamp = String(Math.floor(Date.now() / 1000));
      return fetch(`${url}/webhooks/sendgrid`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          [SIGNATURE_HEADER]: signEventPayload(sendgridBody, timestamp, privateKeyPem),
          [TIMESTAMP_HEADER]: timestamp,
        },
        body: sendgridBody,
      });
    };

    offsetMs = (GRACE_SECONDS - 1) * 1000; // still inside
    expect((await postStripe(secrets.stripeWebhook)).status).toBe(200);
    expect((await postTwilio(secrets.twilioToken)).status).toBe(204);
    expect((await postSendGrid(secrets.sendgridWebhook.privateKeyPem)).status).toBe(200);
    expect((await gql('{ me { id } }', oldToken)).status).toBe(200);

    offsetMs = GRACE_SECONDS * 1000 + 1; // over
    const refused = await postStripe(secrets.stripeWebhook);
    expect(refused.status).toBe(400);
    expect(await refused.json()).toEqual({ error: 'signature_mismatch' });
    expect((await postTwilio(secrets.twilioToken)).status).toBe(400);
    expect((await postSendGrid(secrets.sendgridWebhook.privateKeyPem)).status).toBe(400);
    const expired = await gql('{ me { id } }', oldToken);
    expect(expired.status).toBe(401);
    expect(expired.body.errors[0].extensions.code).toBe('UNAUTHENTICATED');

    // The new ones keep working.
    expect((await postStripe(fresh.stripeWebhook)).status).toBe(200);
    expect((await postTwilio(fresh.twilioToken)).status).toBe(204);
    expect((await postSendGrid(fresh.sendgridWebhook.privateKeyPem)).status).toBe(200);
    const newToken = await mintToken(fresh.jwt, { sub: 'usr_0001', admin: true, ttlSeconds: 3600 });
    expect((await gql('{ me { id } }', newToken)).status).toBe(200);
  });

  it('keeps the value in use when a rotated file is invalid, logs it and counts it', async () => {
    writeSecret('stripe-webhook', ' , ');
    await until(() => logLines.some((l) => l.secret === 'STRIPE_WEBHOOK_SECRET' && l.level === 50));
    expect(await app.metrics.text()).toMatch(
      /junction_secret_reloads_total\{secret="STRIPE_WEBHOOK_SECRET",outcome="invalid"\} 1/,
    );
    const event = JSON.stringify({
      id: 'evt_after_invalid',
      object: 'event',
      type: 'customer.updated',
      data: { object: {} },
    });
    const res = await fetch(`${url}/webhooks/stripe`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'stripe-signature': stripeSignatureHeader(event, fresh.stripeWebhook),
      },
      body: event,
    });
    expect(res.status).toBe(200);
  });
});

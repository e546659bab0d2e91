// The systems under test: Junction and the five baselines, how each is started, and the
// environment each gets (the same upstreams, credentials, socket cap and timeout for all).
import { randomBytes } from 'node:crypto';
import { launchTailcall } from '../baselines/tailcall/launch.js';
import type { SimsInfo } from '../sims.js';
import type { SystemChild } from './child.js';
import type { SystemId } from './config.js';

export interface LaunchOptions {
  env: Record<string, string>;
  /** CPU list for taskset; undefined when pinning is off. */
  cpus: string | undefined;
  label: string;
  /** The bench's hard stop, in seconds: what must stay valid for the whole run. */
  runBudgetS: number;
}

/** The HS256 secret every system under test verifies client tokens with: random per bench run. */
export const BENCH_JWT_SECRET = randomBytes(32).toString('base64url');

export interface SystemDef {
  id: SystemId;
  label: string;
  short: string;
  /** Entry file of a Node child (TypeScript, run through tsx); unused when `launch` is set. */
  entry: string;
  description: string;
  /** Starts a system that is not a Node child (a native binary), instead of `entry`. */
  launch?: (options: LaunchOptions) => SystemChild;
}

export const SYSTEMS: Record<SystemId, SystemDef> = {
  junction: {
    id: 'junction',
    label: 'Junction',
    short: 'Junction',
    entry: 'test/bench/servers/junction.ts',
    description:
      'Junction as shipped (NODE_ENV=production): per-request DataLoaders over the shared lru-cache, the process-wide users batcher, undici pools and the resilience pipeline (retry, breaker, rate limiter, concurrency).',
  },
  naive: {
    id: 'naive',
    label: 'B1 naive fetch',
    short: 'B1 naive',
    entry: 'test/bench/baselines/naive.ts',
    description:
      'Apollo Server 5 (standalone) whose resolvers call `fetch` once per item: `GET /users/{id}` per `user`, one Stripe GET per `billing` and per `payments`. Keep-alive, per-call timeout, cached OAuth token.',
  },
  'datasource-rest': {
    id: 'datasource-rest',
    label: 'B2 datasource-rest',
    short: 'B2 ds-rest',
    entry: 'test/bench/baselines/datasource-rest.ts',
    description:
      'Apollo Server 5 + `@apollo/datasource-rest` 6.4.1: one RESTDataSource per upstream per operation (identical GETs in one operation deduplicated), a shared HTTP cache that honours Cache-Control (users: `private`, Stripe: `no-store`, so nothing is shared).',
  },
  dataloader: {
    id: 'dataloader',
    label: 'B3 DataLoader + undici',
    short: 'B3 dataloader',
    entry: 'test/bench/baselines/dataloader.ts',
    description:
      'The textbook setup: Apollo Server 5 + per-request DataLoaders (users batched by `GET /users?ids=`, Stripe loads deduplicated) over undici Pools. No shared cache, no retries, breaker or limits.',
  },
  hive: {
    id: 'hive',
    label: 'B4 Hive Gateway (Mesh/OpenAPI)',
    short: 'B4 hive',
    entry: 'test/bench/baselines/hive-gateway.ts',
    description:
      'Hive Gateway runtime 2.12.1 over a supergraph composed at startup by GraphQL Mesh Compose 1.8.2 from OpenAPI descriptions of the users and Stripe simulators (@omnigraph/openapi 0.112.4); `user`/`users` by `@resolveTo`, `billing`/`payments`/`name` as gateway resolvers delegating to the Stripe subgraph. No response cache configured.',
  },
  tailcall: {
    id: 'tailcall',
    label: 'B5 Tailcall',
    short: 'B5 tailcall',
    entry: 'test/bench/baselines/tailcall/launch.ts',
    description:
      "Tailcall 1.0.0 (Rust; `@tailcallhq/core-linux-x64-gnu`, the newest release whose binary runs on glibc 2.36), a native process with as many worker threads as CPUs it is pinned to (one), from a `.graphql` config generated at start (`test/bench/baselines/tailcall/config.ts`): `user(id:)` batched into `GET /users?ids=` by `batchKey` (through `@call` to an internal field, as Tailcall batches only on a parameter read from `value`), `dedupe: true` on every `@http`, `@cache` with Junction's TTLs (users 30 s, customers 60 s, payment lists 15 s), `poolMaxIdlePerHost` = the socket cap (Tailcall caps idle sockets only, not open ones), 5 s upstream timeout. Client JWTs checked by `@protected` with an HS256 JWKS. The users OAuth token is fetched once at start (Tailcall has no client-credentials grant). JS `onRequest` hooks set the upstream credentials (with `@protected` on, Tailcall 1.0.0 forwards the client's `Authorization` to every upstream) and answer `billing: null`, no payments, for users without a Stripe customer. Clearing its cache restarts the process; cold runs use a config without `@cache`.",
    launch: (options) =>
      launchTailcall({
        env: options.env,
        cpus: options.cpus,
        label: options.label,
        minTokenLifetimeS: options.runBudgetS,
      }),
  },
};

export interface EnvKnobs {
  connections: number;
  timeoutMs: number;
  rateLimit: number;
  logLevel?: string;
  /** Junction's tracing on, exporting to the simulators' discard OTLP receiver (BENCH_OTEL=1). */
  otel?: boolean;
}

/** The environment of a system under test. Junction reads it through its own config loader. */
export function systemEnv(id: SystemId, sims: SimsInfo, knobs: EnvKnobs): Record<string, string> {
  const common: Record<string, string> = {
    NODE_ENV: 'production',
    JWT_SECRET: BENCH_JWT_SECRET,
    USERS_API_URL: sims.users.url,
    USERS_TOKEN_URL: sims.users.tokenUrl,
    USERS_CLIENT_ID: sims.users.clientId,
    USERS_CLIENT_SECRET: sims.users.clientSecret,
    STRIPE_API_BASE: sims.stripe.url,
    STRIPE_SECRET_KEY: sims.stripe.secretKey,
    UPSTREAM_CONNECTIONS: String(knobs.connections),
    UPSTREAM_TIMEOUT_MS: String(knobs.timeoutMs),
  };
  if (id !== 'junction') return common;
  const rate = String(knobs.rateLimit);
  return {
    ...common,
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: knobs.logLevel ?? 'silent',
    STRIPE_WEBHOOK_SECRET: 'whsec_bench_not_used',
    TWILIO_API_BASE: sims.twilio.url,
    TWILIO_ACCOUNT_SID: sims.twilio.accountSid,
    TWILIO_AUTH_TOKEN: sims.twilio.authToken,
    TWILIO_FROM_NUMBER: sims.twilio.fromNumber,
    PUBLIC_BASE_URL: 'http://127.0.0.1:9',
    SENDGRID_API_BASE: sims.sendgrid.url,
    SENDGRID_API_KEY: sims.sendgrid.apiKey,
    SENDGRID_FROM_EMAIL: 'bench@junction.test',
    SENDGRID_WEBHOOK_PUBLIC_KEY: sims.sendgrid.webhookPublicKey,
    // Connected accounts are not wired yet: production only requires these to be set.
    DATABASE_URL: 'postgres://junction@127.0.0.1:5432/junction',
    TOKEN_ENCRYPTION_KEYS: 'k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=',
    // GitHub is read only for connected users: the bench's workloads never call it.
    GITHUB_API_BASE: 'http://127.0.0.1:9',
    GITHUB_OAUTH_BASE: 'http://127.0.0.1:9',
    GITHUB_CLIENT_ID: 'bench-not-used',
    GITHUB_CLIENT_SECRET: 'bench-not-used',
    GITHUB_WEBHOOK_SECRET: 'bench-not-used',
    UPSTREAM_CONCURRENCY: String(knobs.connections),
    USERS_RATE_LIMIT_PER_SECOND: rate,
    STRIPE_RATE_LIMIT_PER_SECOND: rate,
    TWILIO_RATE_LIMIT_PER_SECOND: rate,
    SENDGRID_RATE_LIMIT_PER_SECOND: rate,
    // One bench token sends thousands of requests a second: the per-client budget would refuse them.
    CLIENT_RATE_LIMIT_PER_MINUTE: '0',
    ...(knobs.otel ? otelEnv(sims) : {}),
  };
}

/** Tracing on: the discard receiver, plus any OTEL_* the bench itself was given (a sampler, say). */
function otelEnv(sims: SimsInfo): Record<string, string> {
  const given = Object.entries(process.env).filter(
    (entry): entry is [string, string] => entry[0].startsWith('OTEL_') && entry[1] !== undefined,
  );
  return { OTEL_EXPORTER_OTLP_ENDPOINT: sims.otlp.url, ...Object.fromEntries(given) };
}

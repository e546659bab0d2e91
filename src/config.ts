// Environment -> typed, validated config. Every default lives here with its unit. A bad or
// missing value stops startup with one message naming every bad variable (never its value).
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { z } from 'zod';
import { type EncryptionKey, parseKeyRing } from './accounts/crypto.js';
import { parseReturnUrlRules, type ReturnUrlRule } from './accounts/returnTo.js';
import { generateDemoSecret } from './demoState.js';

export type NodeEnv = 'development' | 'production' | 'test';

/** A provider either points at a real service or runs as an embedded simulator (demo mode). */
export type ProviderMode<Remote, Simulated = unknown> =
  | ({ kind: 'remote' } & Remote)
  | ({ kind: 'simulator' } & Simulated);

export interface UsersRemote {
  apiUrl: string;
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
}

export interface StripeRemote {
  apiBase: string;
  secretKey: string;
  /** Webhook signing secrets (`whsec_...`); several while rotating. Empty: webhooks refused. */
  webhookSecrets: string[];
}

export interface StripeSimulated {
  /** Secrets set in STRIPE_WEBHOOK_SECRET (`stripe listen`'s, say), accepted beside the simulator's own. */
  webhookSecrets: string[];
}

export interface TwilioRemote {
  apiBase: string;
  accountSid: string;
  authToken: string;
  fromNumber: string;
  /** The public URL Twilio calls back, and so the URL its signatures cover. */
  publicBaseUrl: string;
}

export interface SendGridRemote {
  apiBase: string;
  apiKey: string;
  fromEmail: string;
  /** Base64 (DER SPKI) ECDSA P-256 public key from SendGrid's event webhook settings. */
  webhookPublicKey: string | undefined;
}

export interface Config {
  nodeEnv: NodeEnv;
  isProduction: boolean;
  port: number;
  /** Listen address. Default 127.0.0.1 (loopback) outside production, 0.0.0.0 in production. */
  host: string;
  logLevel: string;
  jwt: {
    /** HS256 secret (at least 32 bytes); absent when a JWKS URL is used. */
    secret: string | undefined;
    jwksUrl: string | undefined;
    issuer: string | undefined;
    audience: string | undefined;
    /** True when the secret is demo mode's generated one (never in production, never off loopback). */
    isDemoSecret: boolean;
    /** Tokens without `exp` are refused. Default true. Trap: false lets a leaked token work forever. */
    requireExp: boolean;
    /** Longest accepted token lifetime in seconds: exp - iat, or exp - now without iat. Default 86400 s (24 h). */
    maxTokenLifetimeSeconds: number;
  };
  /** The HTTP server's own protection against slow or idle clients. */
  http: {
    /** Time a client has to send a whole request, headers included, in ms. Default 30000 ms. */
    requestTimeoutMs: number;
    /** Idle keep-alive socket lifetime between requests, in ms. Default 72000 ms (above common balancer idle timeouts of 60 s). */
    keepAliveTimeoutMs: number;
  };
  users: ProviderMode<UsersRemote>;
  stripe: ProviderMode<StripeRemote, StripeSimulated>;
  twilio: ProviderMode<TwilioRemote>;
  sendgrid: ProviderMode<SendGridRemote>;
  /** Public base URL of this Junction (Twilio status callbacks); demo: the local listen URL. */
  publicBaseUrl: string | undefined;
  upstream: {
    /** Sockets per upstream origin. Default 32. */
    connections: number;
    /** Idle keep-alive in ms. Default 30000 ms. */
    keepAliveTimeoutMs: number;
    /** Connect timeout in ms. Default 2000 ms. */
    connectTimeoutMs: number;
    /** Per-attempt limit in ms. Default 5000 ms. */
    attemptTimeoutMs: number;
    /** Largest accepted upstream body in bytes. Default 5 MiB. */
    maxResponseBytes: number;
  };
  cache: {
    /** Shared cache budget in bytes. Default 64 MiB. */
    maxBytes: number;
  };
  /** The resilience pipeline, the same shape for every provider (rates differ per provider). */
  policies: {
    retry: {
      /** Attempts in all, the first included. Default 3. */
      maxAttempts: number;
      /** Jitter ceiling of the first retry in ms, doubling per retry. Default 100 ms. */
      baseDelayMs: number;
      /** Cap of the jitter ceiling in ms. Default 2000 ms. */
      maxDelayMs: number;
      /** Longest provider Retry-After honoured, in ms; longer ones end the retries. Default 5000 ms. */
      maxRetryAfterMs: number;
    };
    /** Retries may be at most this share of requests (over 10 s). Default 0.2. */
    retryBudgetRatio: number;
    breaker: {
      /** Failure rate (0..1) over the window that opens the circuit. Default 0.5. */
      failureRateThreshold: number;
      /** Calls needed in the window before the rate counts. Default 10. */
      minimumRequests: number;
      /** Sampling window in ms. Default 10000 ms. */
      samplingWindowMs: number;
      /** Time open before one probe is let through, in ms. Default 5000 ms. */
      halfOpenAfterMs: number;
      /** Limit of that probe, in ms (a hanging provider fails it fast). Default 1000 ms. */
      probeTimeoutMs: number;
    };
    /** Longest a request waits for a rate-limit token, in ms; then UPSTREAM_RATE_LIMITED. Default 1000 ms. */
    rateLimitMaxWaitMs: number;
    /**
     * Longest pause (or slowed window) any provider header (Retry-After, RateLimit reset) can impose, in
     * ms; also the largest `retryAfter` passed on to clients. Default 60000 ms. Trap: 0 means headers never pause.
     */
    rateLimitMaxPauseMs: number;
    /** Requests per second per provider credential (token bucket, adapts to the provider's signals). */
    ratePerSecond: { users: number; stripe: number; twilio: number; sendgrid: number };
    /** Requests in flight per provider; clamped to UPSTREAM_CONNECTIONS. Default 32. */
    concurrency: number;
  };
  usersProvider: {
    /** Ids per `GET /users?ids=` call. Default 100 (the service's own limit). */
    maxBatch: number;
    /** Freshness of a cached user in seconds. Default 30 s. Trap: 0 disables the cache. */
    cacheTtlSeconds: number;
    /** Serve-stale-while-refreshing window in seconds. Default 30 s. */
    staleWhileRevalidateSeconds: number;
    /** Serve-stale-when-the-service-fails window in seconds. Default 300 s. */
    staleIfErrorSeconds: number;
  };
  graphql: {
    /** Overall deadline of one GraphQL operation in ms. Default 10000 ms. */
    operationTimeoutMs: number;
    /** Introspection on? Default: on outside production, off in production. */
    introspection: boolean;
    /** The GraphiQL explorer at GET /graphql. Default: on outside production, off in production. */
    playground: boolean;
    /** Arrays of operations in one HTTP request. Default off (each costs a full operation). */
    batching: boolean;
    /** Upstream report in extensions: `header` (x-junction-upstream-report: 1), `always` or `off`. Default header; production: admins only. */
    upstreamReport: 'off' | 'header' | 'always';
    /** Persisted query manifest: when set, only its operations run. Default unset (any operation). */
    allowlistPath: string | undefined;
    /** Hostile-query limits, checked before any resolver runs. */
    limits: {
      maxDepth: number;
      maxAliases: number;
      maxDirectives: number;
      maxTokens: number;
      maxCost: number;
    };
    /** WebSocket (graphql-ws) caps. */
    ws: {
      /**
       * Operations in flight on one socket (subscriptions, and queries or mutations still running).
       * Beyond: that subscribe message gets an error; the socket stays. Default 20.
       */
      maxSubscriptions: number;
      /** Open sockets per signed-in viewer; beyond, the new socket is closed with 4429. Default 10. */
      maxConnectionsPerViewer: number;
    };
  };
  /**
   * Per-client request budget over HTTP and the WebSocket, keyed by the verified viewer id, else the
   * client address. Trap: behind a proxy every anonymous client shares the proxy's address.
   */
  clientRateLimit: {
    /**
     * Requests per client per minute (a fixed one-minute window: the whole budget may be spent in a
     * burst). Default 600. Trap: 0 turns the limit off.
     */
    perMinute: number;
    /**
     * How much query cost one request covers: an operation counts as ceil(cost / this) requests,
     * at least 1, so clients sending expensive queries run out first. Default 100.
     */
    costPerRequest: number;
  };
  federation: {
    /**
     * Shared secret a router sends in `x-router-secret` to read `_service { sdl }` in production
     * (otherwise admins only). Default unset: admins only. 32..512 characters.
     */
    routerSecret: string | undefined;
  };
  /** How long SIGTERM waits for requests in flight before forcing exit, in ms (counted after the readiness delay). Default 10000 ms. */
  shutdownGraceMs: number;
  /**
   * On SIGTERM, how long /readyz answers 503 while requests are still served, so balancers stop
   * sending new traffic before the listener closes, in ms. Default 5000 ms in production, 0 otherwise
   * (0: drain at once). SIGINT (Ctrl-C) never waits.
   */
  shutdownReadinessDelayMs: number;
  /** Connected accounts: per-user OAuth tokens, encrypted at rest. */
  accounts: AccountsConfig;
  /** What replicas share through Redis (REDIS_URL); unset: every store is in-process. */
  state: StateConfig;
}

export interface AccountsConfig {
  /** DATABASE_URL (`postgres://`). Default unset: embedded PGlite in the demo-state directory. Production: required. */
  databaseUrl: string | undefined;
  /**
   * TOKEN_ENCRYPTION_KEYS, parsed: the first key encrypts, all decrypt. Default unset: a demo key
   * generated once into the demo-state directory. Production: required.
   */
  encryptionKeys: EncryptionKey[] | undefined;
  /** OAUTH_RETURN_URLS: where the OAuth callback may send the browser. Default: the playground. */
  returnUrls: ReturnUrlRule[];
  /** How long a begun connection may be completed, in ms. Default 600000 ms (10 min). */
  stateTtlMs: number;
  /** Refresh a user's token this long before it expires, in ms. Default 60000 ms (60 s). */
  refreshSkewMs: number;
}

export interface LoadConfigOptions {
  /**
   * Demo mode's JWT secret, asked for only when demo mode needs one. main.ts and `npm run token`
   * pass the checkout's persisted secret (demoState.ts); default: a random secret for this call
   * only, so tests stay hermetic.
   */
  demoJwtSecret?: () => string;
}

/** Thrown by loadConfig; `problems` has one line per bad variable. */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** HS256 keys shorter than the hash output (32 bytes) weaken it (RFC 7518 §3.2). */
export const MIN_JWT_SECRET_BYTES = 32;

/** True for addresses only this machine can reach: 127.0.0.0/8, ::1, localhost. */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || h === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(h);
  return false;
}

type Env = Record<string, string | undefined>;

/** ROUTER_SECRET bounds, in characters; a presented header longer than the maximum is refused unread. */
export const ROUTER_SECRET_MIN_LENGTH = 32;
export const ROUTER_SECRET_MAX_LENGTH = 512;
const ROUTER_SECRET_LENGTH = `${ROUTER_SECRET_MIN_LENGTH}..${ROUTER_SECRET_MAX_LENGTH} characters`;

const SECRET_VARIABLES = new Set([
  'JWT_SECRET',
  'USERS_CLIENT_SECRET',
  'STRIPE_SECRET_KEY',
  'STRIPE_WEBHOOK_SECRET',
  'TWILIO_AUTH_TOKEN',
  'SENDGRID_API_KEY',
  'ROUTER_SECRET',
  'DATABASE_URL',
  'TOKEN_ENCRYPTION_KEYS',
  'REDIS_URL',
]);

/**
 * Reads `env` (and the files named by `*_FILE` variants of secret variables) into a Config.
 * Throws ConfigError naming every problem at once.
 */
export function loadConfig(
  env: Env = process.env,
  readFile: (path: string) => string = readText,
  options: LoadConfigOptions = {},
): Config {
  const problems: string[] = [];
  const get = (name: string): string | undefined => {
    const direct = env[name];
    if (direct !== undefined && direct !== '') return direct;
    const file = env[`${name}_FILE`];
    if (SECRET_VARIABLES.has(name) && file) {
      try {
        return readFile(file).trim();
      } catch {
        problems.push(`${name}_FILE: cannot read the file it names`);
      }
    }
    return undefined;
  };
  const parse = <T>(name: string, schema: z.ZodType<T>, fallback: T, expected: string): T => {
    const raw = get(name);
    if (raw === undefined) return fallback;
    const result = schema.safeParse(raw);
    if (result.success) return result.data;
    // Secret values are never echoed back.
    problems.push(
      `${name}: expected ${expected}${SECRET_VARIABLES.has(name) ? '' : `, got ${JSON.stringify(raw)}`}`,
    );
    return fallback;
  };
  const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
  const url = z.url({ protocol: /^https?$/ });

  const nodeEnv = parse<NodeEnv>(
    'NODE_ENV',
    z.enum(['development', 'production', 'test']),
    'development',
    'development, production or test',
  );
  const isProduction = nodeEnv === 'production';
  const port = parse('PORT', int(0, 65535), 4000, 'an integer 0..65535');
  // Demo mode binds loopback: its generated secret must never guard a reachable listener.
  const host = parse(
    'HOST',
    z.string().min(1).max(255),
    isProduction ? '0.0.0.0' : '127.0.0.1',
    'a host name or address',
  );
  const logLevel = parse(
    'LOG_LEVEL',
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    'info',
    'one of fatal, error, warn, info, debug, trace, silent',
  );

  // Client JWTs: an HS256 secret or a JWKS URL. Production, a remote provider or a listener
  // others can reach must say which; only a loopback demo gets a generated secret.
  const secretBytes = z
    .string()
    .refine((s) => Buffer.byteLength(s, 'utf8') >= MIN_JWT_SECRET_BYTES && s.length <= 4096);
  if (env.JWT_SECRET === '')
    problems.push(`JWT_SECRET: empty; unset it or give at least ${MIN_JWT_SECRET_BYTES} bytes`);
  const jwtSecret = parse(
    'JWT_SECRET',
    secretBytes,
    undefined,
    `at least ${MIN_JWT_SECRET_BYTES} bytes (HS256 key strength), at most 4096`,
  );
  const jwksUrl = parse('JWT_JWKS_URL', url, undefined, 'an http(s) URL');
  const issuer = parse('JWT_ISSUER', z.string().min(1), undefined, 'a string');
  const audience = parse('JWT_AUDIENCE', z.string().min(1), undefined, 'a string');
  if (jwtSecret !== undefined && jwksUrl !== undefined)
    problems.push('JWT_SECRET, JWT_JWKS_URL: set one, not both');
  const jwtConfigured =
    jwtSecret !== undefined ||
    jwksUrl !== undefined ||
    env.JWT_SECRET !== undefined ||
    env.JWT_SECRET_FILE !== undefined ||
    env.JWT_JWKS_URL !== undefined;
  if (isProduction && !jwtConfigured) problems.push('JWT_SECRET or JWT_JWKS_URL: required in production');

  const users = providerMode<UsersRemote>(
    env,
    get,
    problems,
    isProduction,
    {
      USERS_API_URL: 'apiUrl',
      USERS_TOKEN_URL: 'tokenUrl',
      USERS_CLIENT_ID: 'clientId',
      USERS_CLIENT_SECRET: 'clientSecret',
    },
    ['USERS_API_URL', 'USERS_TOKEN_URL'],
  );
  const publicBaseUrl = parse('PUBLIC_BASE_URL', url, undefined, 'an http(s) URL');
  const stripeBase = parse('STRIPE_API_BASE', url, 'https://api.stripe.com', 'an http(s) URL');
  const stripeRequired = providerMode<{ secretKey: string }>(
    env,
    get,
    problems,
    isProduction,
    { STRIPE_SECRET_KEY: 'secretKey' },
    [],
  );
  // STRIPE_WEBHOOK_SECRET may hold several comma-separated secrets while one is being rotated.
  const stripeWebhookSecrets = (get('STRIPE_WEBHOOK_SECRET') ?? '')
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v.length > 0);
  if (isProduction && stripeWebhookSecrets.length === 0)
    problems.push('STRIPE_WEBHOOK_SECRET: required in production');
  const stripe: ProviderMode<StripeRemote, StripeSimulated> =
    stripeRequired.kind === 'remote'
      ? {
          kind: 'remote',
          apiBase: stripeBase,
          secretKey: stripeRequired.secretKey,
          webhookSecrets: stripeWebhookSecrets,
        }
      : { kind: 'simulator', webhookSecrets: stripeWebhookSecrets };

  const twilioBase = parse('TWILIO_API_BASE', url, 'https://api.twilio.com', 'an http(s) URL');
  const twilioRequired = providerMode<Omit<TwilioRemote, 'apiBase' | 'publicBaseUrl'>>(
    env,
    get,
    problems,
    isProduction,
    { TWILIO_ACCOUNT_SID: 'accountSid', TWILIO_AUTH_TOKEN: 'authToken', TWILIO_FROM_NUMBER: 'fromNumber' },
    [],
  );
  if (twilioRequired.kind === 'remote' && publicBaseUrl === undefined) {
    problems.push(
      'PUBLIC_BASE_URL: required when Twilio is configured (status callbacks and their signatures use it)',
    );
  }
  const twilio: ProviderMode<TwilioRemote> =
    twilioRequired.kind === 'remote'
      ? { ...twilioRequired, apiBase: twilioBase, publicBaseUrl: publicBaseUrl ?? '' }
      : twilioRequired;

  const sendgridBase = parse('SENDGRID_API_BASE', url, 'https://api.sendgrid.com', 'an http(s) URL');
  const sendgridRequired = providerMode<{ apiKey: string; fromEmail: string }>(
    env,
    get,
    problems,
    isProduction,
    { SENDGRID_API_KEY: 'apiKey', SENDGRID_FROM_EMAIL: 'fromEmail' },
    [],
  );
  const sendgridWebhookKey = get('SENDGRID_WEBHOOK_PUBLIC_KEY');
  if (isProduction && sendgridWebhookKey === undefined)
    problems.push('SENDGRID_WEBHOOK_PUBLIC_KEY: required in production');
  const sendgrid: ProviderMode<SendGridRemote> =
    sendgridRequired.kind === 'remote'
      ? { ...sendgridRequired, apiBase: sendgridBase, webhookPublicKey: sendgridWebhookKey }
      : sendgridRequired;

  // Set but empty is refused rather than read as unset: it is a secret that failed to arrive.
  if (env.ROUTER_SECRET === '' && !env.ROUTER_SECRET_FILE)
    problems.push(`ROUTER_SECRET: expected ${ROUTER_SECRET_LENGTH}, got an empty value`);
  const routerSecret = parse(
    'ROUTER_SECRET',
    z.string().min(ROUTER_SECRET_MIN_LENGTH).max(ROUTER_SECRET_MAX_LENGTH),
    undefined,
    ROUTER_SECRET_LENGTH,
  );
  // A generated secret is fine for a demo nobody else can reach, and nothing more.
  const remoteProviders = Object.entries({ users, stripe, twilio, sendgrid })
    .filter(([, mode]) => mode.kind === 'remote')
    .map(([name]) => name);
  const exposed = !isLoopbackHost(host);
  if (!isProduction && !jwtConfigured && (remoteProviders.length > 0 || exposed)) {
    const why = [
      ...(remoteProviders.length > 0 ? [`a provider is remote (${remoteProviders.join(', ')})`] : []),
      ...(exposed ? [`HOST ${JSON.stringify(host)} is not a loopback address`] : []),
    ];
    problems.push(
      `JWT_SECRET or JWT_JWKS_URL: required when ${why.join(' and ')}; demo mode's generated secret is for loopback only`,
    );
  }
  const isDemoSecret = !isProduction && !jwtConfigured && remoteProviders.length === 0 && !exposed;

  const accounts = accountsConfig(get, problems, { isProduction, port, publicBaseUrl });

  const config: Config = {
    nodeEnv,
    isProduction,
    port,
    host,
    logLevel,
    jwt: {
      secret: jwtSecret,
      jwksUrl,
      issuer,
      audience,
      isDemoSecret,
      requireExp: parse('JWT_REQUIRE_EXP', booleanString, true, 'true or false'),
      maxTokenLifetimeSeconds: parse(
        'JWT_MAX_TOKEN_LIFETIME_SECONDS',
        int(60, 31_536_000),
        86_400, // 24 h: the demo token's lifetime
        'seconds 60..31536000',
      ),
    },
    http: {
      requestTimeoutMs: parse(
        'HTTP_REQUEST_TIMEOUT_MS',
        int(100, 600_000),
        30_000,
        'milliseconds 100..600000',
      ),
      keepAliveTimeoutMs: parse(
        'HTTP_KEEPALIVE_TIMEOUT_MS',
        int(100, 600_000),
        72_000,
        'milliseconds 100..600000',
      ),
    },
    users,
    stripe,
    twilio,
    sendgrid,
    publicBaseUrl,
    upstream: {
      connections: parse('UPSTREAM_CONNECTIONS', int(1, 1024), 32, 'an integer 1..1024'),
      keepAliveTimeoutMs: parse('UPSTREAM_KEEPALIVE_MS', int(1, 600_000), 30_000, 'milliseconds 1..600000'),
      connectTimeoutMs: parse('UPSTREAM_CONNECT_TIMEOUT_MS', int(1, 60_000), 2_000, 'milliseconds 1..60000'),
      attemptTimeoutMs: parse('UPSTREAM_TIMEOUT_MS', int(1, 120_000), 5_000, 'milliseconds 1..120000'),
      maxResponseBytes: parse(
        'UPSTREAM_MAX_RESPONSE_BYTES',
        int(1024, 1 << 30),
        5 * 1024 * 1024,
        'bytes >= 1024',
      ),
    },
    cache: {
      maxBytes: parse('CACHE_MAX_BYTES', int(1024, 2 ** 40), 64 * 1024 * 1024, 'bytes >= 1024'),
    },
    policies: {
      retry: {
        maxAttempts: parse('RETRY_MAX_ATTEMPTS', int(1, 10), 3, 'an integer 1..10'),
        baseDelayMs: parse('RETRY_BASE_DELAY_MS', int(1, 60_000), 100, 'milliseconds 1..60000'),
        maxDelayMs: parse('RETRY_MAX_DELAY_MS', int(1, 300_000), 2_000, 'milliseconds 1..300000'),
        maxRetryAfterMs: parse('RETRY_MAX_RETRY_AFTER_MS', int(0, 300_000), 5_000, 'milliseconds 0..300000'),
      },
      retryBudgetRatio: parse('RETRY_BUDGET_RATIO', z.coerce.number().min(0).max(10), 0.2, 'a number 0..10'),
      breaker: {
        failureRateThreshold: parse(
          'BREAKER_FAILURE_RATE',
          z.coerce.number().gt(0).max(1),
          0.5,
          'a number in (0, 1]',
        ),
        // Coalescing and batching keep call volume low: 10 calls are enough evidence.
        minimumRequests: parse('BREAKER_MIN_REQUESTS', int(1, 100_000), 10, 'an integer >= 1'),
        samplingWindowMs: parse(
          'BREAKER_WINDOW_MS',
          int(100, 3_600_000),
          10_000,
          'milliseconds 100..3600000',
        ),
        halfOpenAfterMs: parse(
          'BREAKER_HALF_OPEN_AFTER_MS',
          int(1, 3_600_000),
          5_000,
          'milliseconds 1..3600000',
        ),
        probeTimeoutMs: parse('BREAKER_PROBE_TIMEOUT_MS', int(1, 600_000), 1_000, 'milliseconds 1..600000'),
      },
      rateLimitMaxWaitMs: parse('RATE_LIMIT_MAX_WAIT_MS', int(0, 60_000), 1_000, 'milliseconds 0..60000'),
      rateLimitMaxPauseMs: parse(
        'RATE_LIMIT_MAX_PAUSE_MS',
        int(0, 3_600_000),
        60_000, // 60 s
        'milliseconds 0..3600000',
      ),
      ratePerSecond: {
        users: parse('USERS_RATE_LIMIT_PER_SECOND', z.coerce.number().positive(), 200, 'a positive number'),
        // Stripe allows 100 read+write requests/s in live mode: stay under it.
        stripe: parse('STRIPE_RATE_LIMIT_PER_SECOND', z.coerce.number().positive(), 90, 'a positive number'),
        twilio: parse('TWILIO_RATE_LIMIT_PER_SECOND', z.coerce.number().positive(), 100, 'a positive number'),
        sendgrid: parse(
          'SENDGRID_RATE_LIMIT_PER_SECOND',
          z.coerce.number().positive(),
          100,
          'a positive number',
        ),
      },
      concurrency: parse('UPSTREAM_CONCURRENCY', int(1, 1024), 32, 'an integer 1..1024'),
    },
    usersProvider: {
      maxBatch: parse('USERS_MAX_BATCH', int(1, 1000), 100, 'an integer 1..1000'),
      cacheTtlSeconds: parse('USERS_CACHE_TTL_SECONDS', int(0, 86_400), 30, 'seconds 0..86400'),
      staleWhileRevalidateSeconds: parse('USERS_CACHE_SWR_SECONDS', int(0, 86_400), 30, 'seconds 0..86400'),
      staleIfErrorSeconds: parse('USERS_CACHE_SIE_SECONDS', int(0, 86_400), 300, 'seconds 0..86400'),
    },
    graphql: {
      operationTimeoutMs: parse('OPERATION_TIMEOUT_MS', int(1, 300_000), 10_000, 'milliseconds 1..300000'),
      introspection: parse('GRAPHQL_INTROSPECTION', booleanString, !isProduction, 'true or false'),
      playground: parse('GRAPHQL_PLAYGROUND', booleanString, !isProduction, 'true or false'),
      batching: parse('GRAPHQL_BATCHING', booleanString, false, 'true or false'),
      upstreamReport: parse(
        'UPSTREAM_REPORT',
        z.enum(['off', 'header', 'always']),
        'header',
        'off, header or always',
      ),
      allowlistPath: parse('GRAPHQL_ALLOWLIST', z.string().min(1), undefined, 'a file path'),
      limits: {
        maxDepth: parse('GRAPHQL_MAX_DEPTH', int(1, 100), 12, 'an integer 1..100'),
        maxAliases: parse('GRAPHQL_MAX_ALIASES', int(0, 10_000), 100, 'an integer 0..10000'),
        maxDirectives: parse('GRAPHQL_MAX_DIRECTIVES', int(0, 10_000), 50, 'an integer 0..10000'),
        maxTokens: parse('GRAPHQL_MAX_TOKENS', int(10, 1_000_000), 5_000, 'an integer 10..1000000'),
        maxCost: parse('GRAPHQL_MAX_COST', int(1, 100_000_000), 10_000, 'an integer >= 1'),
      },
      ws: {
        maxSubscriptions: parse('GRAPHQL_WS_MAX_SUBSCRIPTIONS', int(1, 10_000), 20, 'an integer 1..10000'),
        maxConnectionsPerViewer: parse(
          'GRAPHQL_WS_MAX_CONNECTIONS_PER_VIEWER',
          int(1, 10_000),
          10,
          'an integer 1..10000',
        ),
      },
    },
    clientRateLimit: {
      perMinute: parse(
        'CLIENT_RATE_LIMIT_PER_MINUTE',
        int(0, 10_000_000),
        600,
        'an integer 0..10000000 (0 turns the limit off)',
      ),
      costPerRequest: parse(
        'CLIENT_RATE_LIMIT_COST_PER_REQUEST',
        int(1, 100_000_000),
        100,
        'an integer >= 1',
      ),
    },
    federation: { routerSecret },
    shutdownGraceMs: parse('SHUTDOWN_GRACE_MS', int(0, 600_000), 10_000, 'milliseconds 0..600000'),
    shutdownReadinessDelayMs: parse(
      'SHUTDOWN_READINESS_DELAY_MS',
      int(0, 600_000),
      isProduction ? 5_000 : 0,
      'milliseconds 0..600000',
    ),
    accounts,
    state: stateConfig(parse),
  };

  // Asked for last, and only for a valid demo configuration: nothing is generated or written for
  // a configuration that is refused anyway.
  if (isDemoSecret && problems.length === 0) {
    const demoSecret = (options.demoJwtSecret ?? generateDemoSecret)();
    if (Buffer.byteLength(demoSecret, 'utf8') < MIN_JWT_SECRET_BYTES)
      problems.push(
        `demo JWT secret: shorter than ${MIN_JWT_SECRET_BYTES} bytes; delete the demo secrets file to generate a new one`,
      );
    config.jwt.secret = demoSecret;
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/**
 * Connected accounts. DATABASE_URL and TOKEN_ENCRYPTION_KEYS are secrets (a password, keys): their
 * problems are named, never their values.
 */
function accountsConfig(
  get: (name: string) => string | undefined,
  problems: string[],
  context: { isProduction: boolean; port: number; publicBaseUrl: string | undefined },
): AccountsConfig {
  const databaseUrl = get('DATABASE_URL');
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\/[^\s]+$/.test(databaseUrl))
    problems.push('DATABASE_URL: expected a postgres:// or postgresql:// URL');
  if (context.isProduction && databaseUrl === undefined)
    problems.push('DATABASE_URL: required in production');

  const keysText = get('TOKEN_ENCRYPTION_KEYS');
  let encryptionKeys: EncryptionKey[] | undefined;
  if (keysText !== undefined) {
    try {
      encryptionKeys = parseKeyRing(keysText);
    } catch (error) {
      // parseKeyRing's messages name positions and key ids, never key material.
      problems.push(`TOKEN_ENCRYPTION_KEYS: ${(error as Error).message}`);
    }
  } else if (context.isProduction) {
    problems.push('TOKEN_ENCRYPTION_KEYS: required in production');
  }

  const playground = context.publicBaseUrl
    ? `${context.publicBaseUrl.replace(/\/+$/, '')}/graphql`
    : `http://localhost:${context.port}/graphql,http://127.0.0.1:${context.port}/graphql`;
  const returnUrlsText = get('OAUTH_RETURN_URLS');
  let returnUrls: ReturnUrlRule[] = [];
  try {
    returnUrls = parseReturnUrlRules(returnUrlsText ?? playground, { requireHttps: context.isProduction });
  } catch (error) {
    problems.push(
      `${returnUrlsText === undefined ? 'PUBLIC_BASE_URL' : 'OAUTH_RETURN_URLS'}: ${(error as Error).message}`,
    );
  }

  return {
    databaseUrl,
    encryptionKeys,
    returnUrls,
    stateTtlMs: 10 * 60 * 1000, // 10 min
    refreshSkewMs: 60 * 1000, // 60 s
  };
}

export interface StateConfig {
  /**
   * REDIS_URL (`redis://` or `rediss://`, user, password and database in the URL). Default unset:
   * every store is in-process and no Redis client is created. A secret: never logged.
   */
  redisUrl: string | undefined;
  /** REDIS_KEY_PREFIX: starts every key and channel, so several deployments can share one Redis. Default `junction:`. */
  keyPrefix: string;
  /** REDIS_COMMAND_TIMEOUT_MS: longest any request waits on Redis before using local state. Default 250 ms. */
  commandTimeoutMs: number;
  /** Fixed tunables of src/state/ (not environment variables), with their units. */
  tuning: StateTuning;
}

/** Defaults of src/state/ with their units; see STATE_TUNING. */
export interface StateTuning {
  /** Limit of one connection attempt, in ms. */
  connectTimeoutMs: number;
  /** Reconnect back-off cap, in ms (doubling from 50 ms, with jitter; retried forever). */
  reconnectMaxDelayMs: number;
  /** While degraded on a connected socket, how often a PING checks whether Redis answers again, in ms. */
  probeIntervalMs: number;
  /** How often a replica refreshes its heartbeat key, in ms. */
  heartbeatIntervalMs: number;
  /** Heartbeat key lifetime, in ms: a replica silent this long no longer counts. */
  replicaTtlMs: number;
  /** After an outage, how long replicas stay on their local rate budgets so they switch back together, in ms. */
  rejoinHoldMs: number;
  /** Poll interval of every cross-replica wait (cache fill, event claim, idempotency claim), in ms. */
  pollIntervalMs: number;
  /** Largest value stored in Redis (a cache entry, an APQ document, a push), in bytes; larger ones stay local. */
  maxValueBytes: number;
  /** Longest life of a cache entry (and of a prefix version) in Redis, in ms. */
  cacheMaxLifeMs: number;
  /** Lifetime of a cache fill lock, in ms: a replica that dies while loading blocks no one longer. */
  cacheLockTtlMs: number;
  /** How long other replicas wait for one replica's fill before loading themselves, in ms. */
  cacheFillWaitMs: number;
  /** Byte budget of each local twin cache used while Redis is degraded. */
  fallbackCacheMaxBytes: number;
  /** How long a webhook event id stays claimed while its effects run, in ms. */
  dedupeProcessingTtlMs: number;
  /** How long a processed event id is remembered, in ms (the same window as in-process). */
  dedupeWindowMs: number;
  /** How long a second delivery waits for the first one's effects on another replica, in ms. */
  dedupeWaitMs: number;
  /** How long an idempotent mutation's result is kept, in ms. */
  idempotencyTtlMs: number;
  /** How long an idempotency key stays "in progress" if its request never finishes, in ms. */
  idempotencyPendingTtlMs: number;
  /** How long a repeat waits for the first request with its key, in ms. */
  idempotencyWaitMs: number;
  /** Largest stored mutation result, in bytes. */
  idempotencyMaxResultBytes: number;
  /** Longest APQ document lifetime in Redis, in seconds (Apollo's own TTL is cut to it; no TTL becomes it). */
  apqMaxTtlSeconds: number;
  /** Byte budget of this process's APQ documents (Apollo's own default). */
  apqLocalMaxBytes: number;
}

export const STATE_TUNING: Readonly<StateTuning> = Object.freeze({
  connectTimeoutMs: 2_000, // 2 s
  reconnectMaxDelayMs: 500, // 0.5 s: every replica retries within rejoinHoldMs of Redis coming back
  probeIntervalMs: 500, // 0.5 s
  heartbeatIntervalMs: 1_000, // 1 s
  replicaTtlMs: 5_000, // 5 s
  rejoinHoldMs: 2_000, // 2 s, above reconnectMaxDelayMs plus jitter and one probe
  pollIntervalMs: 20, // 20 ms
  maxValueBytes: 1024 * 1024, // 1 MiB
  cacheMaxLifeMs: 60 * 60 * 1000, // 1 h
  cacheLockTtlMs: 10_000, // 10 s: the operation deadline
  cacheFillWaitMs: 3_000, // 3 s
  fallbackCacheMaxBytes: 8 * 1024 * 1024, // 8 MiB
  dedupeProcessingTtlMs: 30_000, // 30 s
  dedupeWindowMs: 60 * 60 * 1000, // 1 h
  dedupeWaitMs: 10_000, // 10 s, under the providers' webhook timeouts
  idempotencyTtlMs: 24 * 60 * 60 * 1000, // 24 h
  idempotencyPendingTtlMs: 60_000, // 60 s, well above the 10 s operation deadline
  idempotencyWaitMs: 10_000, // 10 s: the operation deadline
  idempotencyMaxResultBytes: 64 * 1024, // 64 KiB
  apqMaxTtlSeconds: 24 * 60 * 60, // 24 h
  apqLocalMaxBytes: 30 * 1024 * 1024, // 30 MiB, as Apollo's default cache
});

/** REDIS_KEY_PREFIX: a short, printable namespace (it starts every key and channel). */
const REDIS_KEY_PREFIX = /^[A-Za-z0-9_.:{}-]{1,64}$/;

type Parse = <T>(name: string, schema: z.ZodType<T>, fallback: T, expected: string) => T;

/** Shared state. REDIS_URL may hold a password: `parse` names its problems, never its value. */
function stateConfig(parse: Parse): StateConfig {
  const redisUrl = parse(
    'REDIS_URL',
    z.string().refine(isRedisUrl),
    undefined,
    'a redis:// or rediss:// URL with a host',
  );
  const keyPrefix = parse(
    'REDIS_KEY_PREFIX',
    z.string().regex(REDIS_KEY_PREFIX),
    'junction:',
    '1..64 characters of A-Z a-z 0-9 _ . : { } -',
  );
  const commandTimeoutMs = parse(
    'REDIS_COMMAND_TIMEOUT_MS',
    z.coerce.number().int().min(10).max(10_000),
    250, // 250 ms
    'milliseconds 10..10000',
  );
  return { redisUrl, keyPrefix, commandTimeoutMs, tuning: { ...STATE_TUNING } };
}

function isRedisUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === 'redis:' || url.protocol === 'rediss:') && url.hostname !== '';
  } catch {
    return false;
  }
}

const booleanString = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

/**
 * A provider is remote when any of its variables is set (then all are required), a simulator
 * when none is and we are not in production, and a startup error in production otherwise.
 */
function providerMode<R>(
  env: Env,
  get: (name: string) => string | undefined,
  problems: string[],
  isProduction: boolean,
  variables: Record<string, keyof R>,
  urlVariables: string[],
): ProviderMode<R> {
  const names = Object.keys(variables);
  const anySet = names.some((n) => get(n) !== undefined || env[`${n}_FILE`] !== undefined);
  if (!anySet && !isProduction) return { kind: 'simulator' };
  const remote: Record<string, string> = {};
  for (const name of names) {
    const value = get(name);
    if (value === undefined) {
      problems.push(
        `${name}: required${isProduction ? ' in production' : ' when the provider is configured'}`,
      );
      continue;
    }
    if (urlVariables.includes(name) && !z.url({ protocol: /^https?$/ }).safeParse(value).success) {
      problems.push(`${name}: expected an http(s) URL, got ${JSON.stringify(value)}`);
      continue;
    }
    remote[variables[name] as string] = value;
  }
  return { kind: 'remote', ...(remote as R) };
}

function readText(path: string): string {
  return readFileSync(path, 'utf8');
}

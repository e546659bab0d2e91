// Environment -> typed, validated config. Every default lives here with its unit. A bad or
// missing value stops startup with one message naming every bad variable (never its value).
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { z } from 'zod';
import { type EncryptionKey, parseKeyRing } from './accounts/crypto.js';
import { parseReturnUrlRules, type ReturnUrlRule } from './accounts/returnTo.js';
import { generateDemoSecret } from './demoState.js';
import { fileSecret, fixedSecret, type Secret } from './secrets.js';
import { sendgridPublicKey } from './webhooks/verifySendGrid.js';

export type NodeEnv = 'development' | 'production' | 'test';

/** A provider either points at a real service or runs as an embedded simulator (demo mode). */
export type ProviderMode<Remote, Simulated = unknown> =
  | ({ kind: 'remote' } & Remote)
  | ({ kind: 'simulator' } & Simulated);

// Secrets are `Secret` handles (secrets.ts): given as `<NAME>_FILE`, they are re-read while Junction
// runs, so consumers read `current()` per use instead of keeping the value.

export interface UsersRemote {
  apiUrl: string;
  tokenUrl: string;
  clientId: string;
  clientSecret: Secret<string>;
}

export interface StripeRemote {
  apiBase: string;
  secretKey: Secret<string>;
  /** Webhook signing secrets (`whsec_...`); several while rotating. Empty: webhooks refused. */
  webhookSecrets: Secret<string[]>;
}

export interface StripeSimulated {
  /** Secrets set in STRIPE_WEBHOOK_SECRET (`stripe listen`'s, say), accepted beside the simulator's own. */
  webhookSecrets: Secret<string[]>;
}

export interface TwilioRemote {
  apiBase: string;
  accountSid: string;
  /** Also the key Twilio signs status callbacks with. */
  authToken: Secret<string>;
  fromNumber: string;
  /** The public URL Twilio calls back, and so the URL its signatures cover. */
  publicBaseUrl: string;
}

export interface SendGridRemote {
  apiBase: string;
  apiKey: Secret<string>;
  fromEmail: string;
  /** Base64 (DER SPKI) or PEM ECDSA P-256 public key from SendGrid's event webhook settings. */
  webhookPublicKey: Secret<string> | undefined;
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
    secret: Secret<string> | undefined;
    jwksUrl: string | undefined;
    issuer: string | undefined;
    audience: string | undefined;
    /** True when the secret is demo mode's generated one (never in production, never off loopback). */
    isDemoSecret: boolean;
    /** Tokens without `exp` are refused. Default true. Trap: false lets a leaked token work forever. */
    requireExp: boolean;
    /** Longest accepted token lifetime in seconds: exp - iat, or exp - now without iat. Default 86400 s (24 h). */
    maxTokenLifetimeSeconds: number;
    /**
     * After JWT_SECRET_FILE changes, tokens signed with the replaced secret are still accepted for
     * this long, in seconds (clients hold tokens signed just before). Default 3600 s (1 h). Trap:
     * after a leak, set 0 so the old secret stops working at once.
     */
    secretGraceSeconds: number;
  };
  /** Secrets given as files (`*_FILE`): how changes are noticed and what the old value is still good for. */
  secrets: {
    /**
     * How often secret files are read again (besides watching their directories and SIGHUP), in ms.
     * Default 5000 ms. Trap: 0 relies on the directory watcher alone, which misses events on some mounts.
     */
    pollIntervalMs: number;
    /**
     * After a webhook secret changes (STRIPE_WEBHOOK_SECRET_FILE, TWILIO_AUTH_TOKEN_FILE,
     * SENDGRID_WEBHOOK_PUBLIC_KEY_FILE), deliveries signed with the old one are still accepted for
     * this long, in seconds (providers retry deliveries signed before the rotation). Default 3600 s.
     */
    webhookGraceSeconds: number;
  };
  /**
   * Load shedding (@fastify/under-pressure): while a threshold is exceeded, requests are answered
   * 503 with Retry-After at once, instead of queueing until they all time out. /healthz, /readyz and
   * /metrics are always served. Every threshold: 0 turns it off.
   */
  loadShedding: {
    /**
     * HTTP requests served at once (webhooks included; liveness, readiness, metrics and WebSocket
     * operations not). Beyond, each new request is shed at once. Default 1024. Trap: set it near
     * capacity × the latency you accept (Little's law), not far above, or it sheds only once every
     * request is already slow.
     */
    maxInFlight: number;
    /**
     * Mean event-loop delay over the last sample, in ms. Default 0 (off). Trap: it acts a sample late
     * and sheds everything while over, so a short burst (a flood of WebSocket messages) can shed
     * unrelated requests; prefer maxInFlight, and keep this well above normal lag (e.g. 500 ms).
     */
    maxEventLoopDelayMs: number;
    /** Event-loop utilisation over the last sample, 0..1. Default 0 (off). Trap: 1 never trips. */
    maxEventLoopUtilization: number;
    /** V8 heap in use, in bytes. Default 0 (off: Node's own heap limit applies). */
    maxHeapUsedBytes: number;
    /** Resident set size, in bytes. Default 0 (off: set it below the container's memory limit). */
    maxRssBytes: number;
    /** Retry-After sent with a shed request, in seconds. Default 2 s. */
    retryAfterSeconds: number;
    /** How often the measures are sampled, in ms (the shedding state changes at most this often). Default 500 ms, at least 100 ms. */
    sampleIntervalMs: number;
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
    routerSecret: Secret<string> | undefined;
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
}

export interface AccountsConfig {
  /**
   * DATABASE_URL (`postgres://`). Default unset: embedded PGlite in the demo-state directory.
   * Production: required. Read once: a changed DATABASE_URL_FILE takes effect at the next start.
   */
  databaseUrl: string | undefined;
  /**
   * TOKEN_ENCRYPTION_KEYS, parsed: the first key encrypts, all decrypt. Default unset: a demo key
   * generated once into the demo-state directory. Production: required. A changed
   * TOKEN_ENCRYPTION_KEYS_FILE is taken at once (validated first).
   */
  encryptionKeys: Secret<EncryptionKey[]> | undefined;
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
  /** Clock of secrets' grace periods (the old value of a rotated secret), in epoch ms. Default Date.now. */
  now?: () => number;
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
]);
/** Not secret, but rotated with the webhook settings like one: may be given as a file too. */
const FILE_VARIABLES = new Set([...SECRET_VARIABLES, 'SENDGRID_WEBHOOK_PUBLIC_KEY']);

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
  // Where each variable's text came from: the environment, or the file `<name>_FILE` names (read once here).
  const sources = new Map<string, { text: string; file?: string } | undefined>();
  const source = (name: string): { text: string; file?: string } | undefined => {
    if (sources.has(name)) return sources.get(name);
    let found: { text: string; file?: string } | undefined;
    const direct = env[name];
    const file = env[`${name}_FILE`];
    if (direct !== undefined && direct !== '') found = { text: direct };
    else if (FILE_VARIABLES.has(name) && file) {
      try {
        found = { text: readFile(file).trim(), file };
      } catch {
        problems.push(`${name}_FILE: cannot read the file it names`);
      }
    }
    sources.set(name, found);
    return found;
  };
  const get = (name: string): string | undefined => source(name)?.text;
  const now = options.now ?? Date.now;
  /**
   * The variable as a Secret: validated by `parse` (which throws an Error naming what was expected),
   * now and whenever its file changes. Invalid or absent: a problem is recorded (when invalid) and
   * the placeholder is returned, never used since loadConfig then throws.
   */
  const secret = <T>(
    name: string,
    parse: (text: string) => T,
    placeholder: T,
    graceSeconds = 0,
  ): Secret<T> => {
    const from = source(name);
    if (from === undefined) return fixedSecret(name, placeholder);
    let value: T;
    try {
      value = parse(from.text);
    } catch (error) {
      problems.push(`${name}: ${(error as Error).message}`);
      return fixedSecret(name, placeholder);
    }
    if (from.file === undefined) return fixedSecret(name, value);
    return fileSecret({
      variable: name,
      file: from.file,
      raw: from.text,
      value,
      parse,
      graceMs: graceSeconds * 1000,
      now,
    });
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
  if (env.JWT_SECRET === '')
    problems.push(`JWT_SECRET: empty; unset it or give at least ${MIN_JWT_SECRET_BYTES} bytes`);
  const secretGraceSeconds = parse('JWT_SECRET_GRACE_SECONDS', int(0, 604_800), 3_600, 'seconds 0..604800');
  const jwtSecret =
    get('JWT_SECRET') === undefined ? undefined : secret('JWT_SECRET', hs256Secret, '', secretGraceSeconds);
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

  const webhookGraceSeconds = parse(
    'WEBHOOK_SECRET_GRACE_SECONDS',
    int(0, 604_800),
    3_600, // 1 h
    'seconds 0..604800',
  );
  const usersRequired = providerMode<Omit<UsersRemote, 'clientSecret'> & { clientSecret: string }>(
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
  const users: ProviderMode<UsersRemote> =
    usersRequired.kind === 'remote'
      ? { ...usersRequired, clientSecret: secret('USERS_CLIENT_SECRET', nonEmpty, '') }
      : usersRequired;
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
  const stripeWebhookSecrets = secret('STRIPE_WEBHOOK_SECRET', secretList, [], webhookGraceSeconds);
  if (isProduction && get('STRIPE_WEBHOOK_SECRET') === undefined)
    problems.push('STRIPE_WEBHOOK_SECRET: required in production');
  const stripe: ProviderMode<StripeRemote, StripeSimulated> =
    stripeRequired.kind === 'remote'
      ? {
          kind: 'remote',
          apiBase: stripeBase,
          secretKey: secret('STRIPE_SECRET_KEY', nonEmpty, ''),
          webhookSecrets: stripeWebhookSecrets,
        }
      : { kind: 'simulator', webhookSecrets: stripeWebhookSecrets };

  const twilioBase = parse('TWILIO_API_BASE', url, 'https://api.twilio.com', 'an http(s) URL');
  const twilioRequired = providerMode<
    Omit<TwilioRemote, 'apiBase' | 'publicBaseUrl' | 'authToken'> & { authToken: string }
  >(
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
      ? {
          ...twilioRequired,
          // It signs status callbacks too: the replaced token verifies them during the webhook grace.
          authToken: secret('TWILIO_AUTH_TOKEN', nonEmpty, '', webhookGraceSeconds),
          apiBase: twilioBase,
          publicBaseUrl: publicBaseUrl ?? '',
        }
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
  const sendgridWebhookKey =
    get('SENDGRID_WEBHOOK_PUBLIC_KEY') === undefined
      ? undefined
      : secret('SENDGRID_WEBHOOK_PUBLIC_KEY', ecdsaPublicKey, '', webhookGraceSeconds);
  if (isProduction && sendgridWebhookKey === undefined)
    problems.push('SENDGRID_WEBHOOK_PUBLIC_KEY: required in production');
  const sendgrid: ProviderMode<SendGridRemote> =
    sendgridRequired.kind === 'remote'
      ? {
          ...sendgridRequired,
          apiKey: secret('SENDGRID_API_KEY', nonEmpty, ''),
          apiBase: sendgridBase,
          webhookPublicKey: sendgridWebhookKey,
        }
      : sendgridRequired;

  // Set but empty is refused rather than read as unset: it is a secret that failed to arrive.
  if (env.ROUTER_SECRET === '' && !env.ROUTER_SECRET_FILE)
    problems.push(`ROUTER_SECRET: expected ${ROUTER_SECRET_LENGTH}, got an empty value`);
  const routerSecret =
    get('ROUTER_SECRET') === undefined ? undefined : secret('ROUTER_SECRET', routerSecretText, '');
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

  const accounts = accountsConfig(get, secret, problems, { isProduction, port, publicBaseUrl });

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
      secretGraceSeconds,
    },
    secrets: {
      pollIntervalMs: parse(
        'SECRETS_POLL_INTERVAL_MS',
        int(0, 3_600_000),
        5_000, // 5 s
        'milliseconds 0..3600000 (0 turns the poll off)',
      ),
      webhookGraceSeconds,
    },
    loadShedding: {
      maxInFlight: parse(
        'LOAD_SHED_MAX_IN_FLIGHT',
        int(0, 1_000_000),
        1024,
        'an integer 0..1000000 (0 turns it off)',
      ),
      maxEventLoopDelayMs: parse(
        'LOAD_SHED_MAX_EVENT_LOOP_DELAY_MS',
        int(0, 60_000),
        0, // off
        'milliseconds 0..60000 (0 turns it off)',
      ),
      maxEventLoopUtilization: parse(
        'LOAD_SHED_MAX_EVENT_LOOP_UTILIZATION',
        z.coerce.number().min(0).max(1),
        0,
        'a number 0..1 (0 turns it off)',
      ),
      maxHeapUsedBytes: parse('LOAD_SHED_MAX_HEAP_USED_BYTES', int(0, 2 ** 48), 0, 'bytes (0 turns it off)'),
      maxRssBytes: parse('LOAD_SHED_MAX_RSS_BYTES', int(0, 2 ** 48), 0, 'bytes (0 turns it off)'),
      retryAfterSeconds: parse('LOAD_SHED_RETRY_AFTER_SECONDS', int(1, 3_600), 2, 'seconds 1..3600'),
      // At least 100 ms: the delay is sampled every 10 ms, and an interval without a sample reads
      // as an infinite delay (under-pressure's convention), which would shed for nothing.
      sampleIntervalMs: parse(
        'LOAD_SHED_SAMPLE_INTERVAL_MS',
        int(100, 60_000),
        500,
        'milliseconds 100..60000',
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
  };

  // Asked for last, and only for a valid demo configuration: nothing is generated or written for
  // a configuration that is refused anyway.
  if (isDemoSecret && problems.length === 0) {
    const demoSecret = (options.demoJwtSecret ?? generateDemoSecret)();
    if (Buffer.byteLength(demoSecret, 'utf8') < MIN_JWT_SECRET_BYTES)
      problems.push(
        `demo JWT secret: shorter than ${MIN_JWT_SECRET_BYTES} bytes; delete the demo secrets file to generate a new one`,
      );
    config.jwt.secret = fixedSecret('JWT_SECRET', demoSecret);
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
  secret: <T>(name: string, parse: (text: string) => T, placeholder: T) => Secret<T>,
  problems: string[],
  context: { isProduction: boolean; port: number; publicBaseUrl: string | undefined },
): AccountsConfig {
  const databaseUrl = get('DATABASE_URL');
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\/[^\s]+$/.test(databaseUrl))
    problems.push('DATABASE_URL: expected a postgres:// or postgresql:// URL');
  if (context.isProduction && databaseUrl === undefined)
    problems.push('DATABASE_URL: required in production');

  // parseKeyRing's messages name positions and key ids, never key material. No grace: every key
  // the ring should still decrypt with stays listed in the new value.
  const encryptionKeys =
    get('TOKEN_ENCRYPTION_KEYS') === undefined
      ? undefined
      : secret('TOKEN_ENCRYPTION_KEYS', parseKeyRing, [] as EncryptionKey[]);
  if (encryptionKeys === undefined && context.isProduction)
    problems.push('TOKEN_ENCRYPTION_KEYS: required in production');

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

/** A secret's text: anything but empty. */
function nonEmpty(text: string): string {
  if (text.length === 0) throw new Error('expected a value, got an empty one');
  return text;
}

function hs256Secret(text: string): string {
  if (Buffer.byteLength(text, 'utf8') < MIN_JWT_SECRET_BYTES || text.length > 4096)
    throw new Error(`expected at least ${MIN_JWT_SECRET_BYTES} bytes (HS256 key strength), at most 4096`);
  return text;
}

function routerSecretText(text: string): string {
  if (text.length < ROUTER_SECRET_MIN_LENGTH || text.length > ROUTER_SECRET_MAX_LENGTH)
    throw new Error(`expected ${ROUTER_SECRET_LENGTH}`);
  return text;
}

/** Comma-separated secrets, at least one. */
function secretList(text: string): string[] {
  const list = text
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v.length > 0);
  if (list.length === 0) throw new Error('expected one or more comma-separated secrets');
  return list;
}

/** The text, once it reads as an ECDSA public key (base64 DER SPKI or PEM). */
function ecdsaPublicKey(text: string): string {
  let type: string | undefined;
  try {
    type = sendgridPublicKey(text).asymmetricKeyType;
  } catch {
    type = undefined;
  }
  if (type !== 'ec') throw new Error('expected an ECDSA public key (base64 DER or PEM)');
  return text;
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

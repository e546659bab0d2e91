// Environment -> typed, validated config. Each section below lists its variables once (name,
// range, default with its unit, one line of documentation: configSchema.ts); each provider's
// section lives in its own folder and is reached through the registry. The README's configuration
// table is rendered from the same lists (`npm run docs:config`; a test keeps it in step). A bad or
// missing value stops startup with one message naming every bad variable (never a secret's value).
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { type EncryptionKey, parseKeyRing } from './accounts/crypto.js';
import { parseReturnUrlRules, type ReturnUrlRule } from './accounts/returnTo.js';
import {
  type ConfigSource,
  createSource,
  custom,
  type DocumentedSection,
  type Env,
  type Fields,
  flag,
  integer,
  oneOf,
  readSection,
  readVariable,
  rotating,
  secret,
  text,
  url,
  type Values,
} from './configSchema.js';
import { generateDemoSecret } from './demoState.js';
import { ROUTER_SECRET_MAX_LENGTH, ROUTER_SECRET_MIN_LENGTH } from './graphql/federation.js';
import { type LoadSheddingLimits, loadSheddingFields } from './loadShedding.js';
import { readTracingConfig, type TracingConfig } from './observability/tracingConfig.js';
import type { AnyProviderModule, ProviderConfig, RemoteValues } from './providers/module.js';
import { type ProviderName, providerModules } from './providers/registry.js';
import { fixedSecret, type Secret } from './secrets.js';
import { readStateConfig, type StateConfig, stateFields } from './state/config.js';
import { policyFields, upstreamFields } from './upstream/config.js';

/** HS256 keys shorter than the hash output (32 bytes) weaken it (RFC 7518 §3.2). */
export const MIN_JWT_SECRET_BYTES = 32;

export const coreFields = {
  nodeEnv: oneOf('NODE_ENV', ['development', 'production', 'test'] as const, {
    default: 'development',
    doc: '`production` requires every provider and secret, and never starts a simulator.',
  }),
  port: integer('PORT', { min: 0, max: 65_535, default: 4000, doc: 'Listen port.' }),
  host: text('HOST', {
    maxLength: 255,
    expected: 'a host name or address',
    // Demo mode binds loopback: its generated secret must never guard a reachable listener.
    default: ({ isProduction }) => (isProduction ? '0.0.0.0' : '127.0.0.1'),
    defaultDoc: '`127.0.0.1` outside production (demo mode binds loopback), `0.0.0.0` in production',
    doc: 'Listen address.',
  }),
  logLevel: oneOf('LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, {
    default: 'info',
    doc: 'pino log level.',
  }),
  publicBaseUrl: url('PUBLIC_BASE_URL', {
    doc: 'Where providers reach this Junction: their callbacks, and so the URLs their signatures cover.',
    defaultDoc: 'demo: the local listen URL',
  }),
};

export const jwtFields = {
  secret: rotating(
    secret('JWT_SECRET', {
      min: MIN_JWT_SECRET_BYTES,
      max: 4096,
      expected: `at least ${MIN_JWT_SECRET_BYTES} bytes (HS256 key strength), at most 4096`,
      defaultDoc: 'demo mode (loopback, all simulators): generated once into `.junction/demo-secrets.json`',
      doc: 'HS256 secret client bearer tokens are verified with; or `JWT_JWKS_URL`. Required in production, and whenever a provider is remote or `HOST` is not loopback.',
    }),
    'jwt',
  ),
  jwksUrl: url('JWT_JWKS_URL', {
    doc: 'JWKS URL client tokens are verified against (RS256, ES256, PS256, EdDSA).',
  }),
  issuer: text('JWT_ISSUER', { doc: 'Required `iss` claim.' }),
  audience: text('JWT_AUDIENCE', { doc: 'Required `aud` claim.' }),
  requireExp: flag('JWT_REQUIRE_EXP', { default: true, doc: 'Tokens without `exp` are refused.' }),
  maxTokenLifetimeSeconds: integer('JWT_MAX_TOKEN_LIFETIME_SECONDS', {
    min: 60,
    max: 31_536_000,
    default: 86_400, // 24 h: the demo token's lifetime
    unit: 's',
    doc: 'Longest accepted token lifetime: `exp − iat`, or `exp − now` without `iat`.',
  }),
};

export const httpFields = {
  requestTimeoutMs: integer('HTTP_REQUEST_TIMEOUT_MS', {
    min: 100,
    max: 600_000,
    default: 30_000,
    unit: 'ms',
    doc: 'Time a client has to send a whole request, headers included (then 408); a silent connection is closed after the same time.',
  }),
  keepAliveTimeoutMs: integer('HTTP_KEEPALIVE_TIMEOUT_MS', {
    min: 100,
    max: 600_000,
    default: 72_000, // above common balancer idle timeouts (60 s)
    unit: 'ms',
    doc: 'Idle kept-alive connection lifetime.',
  }),
  shutdownReadinessDelayMs: integer('SHUTDOWN_READINESS_DELAY_MS', {
    min: 0,
    max: 600_000,
    unit: 'ms',
    default: ({ isProduction }) => (isProduction ? 5_000 : 0),
    defaultDoc: '`5000` ms in production, `0` elsewhere',
    doc: 'On SIGTERM, how long `/readyz` answers 503 while requests are still served, before draining (SIGINT skips it).',
  }),
  shutdownGraceMs: integer('SHUTDOWN_GRACE_MS', {
    min: 0,
    max: 600_000,
    default: 10_000,
    unit: 'ms',
    doc: 'Drain time after the readiness delay, then forced exit.',
  }),
};

export const graphqlFields = {
  operationTimeoutMs: integer('OPERATION_TIMEOUT_MS', {
    min: 1,
    max: 300_000,
    default: 10_000,
    unit: 'ms',
    doc: 'Deadline of one GraphQL operation, passed down to every upstream call.',
  }),
  introspection: flag('GRAPHQL_INTROSPECTION', {
    default: ({ isProduction }) => !isProduction,
    defaultDoc: 'on outside production, off in production',
    doc: 'Schema introspection.',
  }),
  playground: flag('GRAPHQL_PLAYGROUND', {
    default: ({ isProduction }) => !isProduction,
    defaultDoc: 'on outside production, off in production',
    doc: 'The GraphiQL explorer at `GET /graphql` for browsers.',
  }),
  batching: flag('GRAPHQL_BATCHING', {
    default: false,
    doc: 'Arrays of operations in one HTTP request (each costs a full operation).',
  }),
  upstreamReport: oneOf('UPSTREAM_REPORT', ['off', 'header', 'always'] as const, {
    default: 'header',
    defaultDoc: '`header` (production: admins only)',
    doc: 'Per-operation upstream report in `extensions.upstream`: on request (`x-junction-upstream-report: 1`), always, or off.',
  }),
  allowlistPath: text('GRAPHQL_ALLOWLIST', {
    expected: 'a file path',
    doc: "Path of a persisted query manifest (Apollo's format): only its operations run.",
  }),
  maxDepth: integer('GRAPHQL_MAX_DEPTH', {
    min: 1,
    max: 100,
    default: 12,
    doc: 'Deepest selection nesting.',
  }),
  maxAliases: integer('GRAPHQL_MAX_ALIASES', {
    min: 0,
    max: 10_000,
    default: 100, // fetching 100 users by alias in one query is legitimate
    doc: 'Aliases per operation.',
  }),
  maxDirectives: integer('GRAPHQL_MAX_DIRECTIVES', {
    min: 0,
    max: 10_000,
    default: 50,
    doc: 'Directives per operation.',
  }),
  maxTokens: integer('GRAPHQL_MAX_TOKENS', {
    min: 10,
    max: 1_000_000,
    default: 5_000,
    doc: 'Lexical tokens per document.',
  }),
  maxCost: integer('GRAPHQL_MAX_COST', {
    min: 1,
    max: 100_000_000,
    default: 10_000,
    doc: "Cost limit: 1 per field, a connection's contents multiplied by its `first`.",
  }),
  wsMaxSubscriptions: integer('GRAPHQL_WS_MAX_SUBSCRIPTIONS', {
    min: 1,
    max: 10_000,
    default: 20,
    doc: 'Operations running at once on one WebSocket (subscriptions, and queries or mutations still running); beyond, that subscribe gets `RATE_LIMITED` (`limit: maxSubscriptions`) and the socket stays open.',
  }),
  wsMaxConnectionsPerViewer: integer('GRAPHQL_WS_MAX_CONNECTIONS_PER_VIEWER', {
    min: 1,
    max: 10_000,
    default: 10,
    doc: 'Open WebSockets per signed-in viewer; beyond, the new socket is closed with 4429.',
  }),
  clientRateLimitPerMinute: integer('CLIENT_RATE_LIMIT_PER_MINUTE', {
    min: 0,
    max: 10_000_000,
    default: 600,
    expected: 'an integer 0..10000000 (0 turns the limit off)',
    doc: "Requests per client per minute, HTTP and WebSocket together; the client is the signed-in viewer, else the client address (behind a proxy: the proxy's). A one-minute window: the whole budget may be spent in a burst. `0` turns it off.",
  }),
  clientRateLimitCostPerRequest: integer('CLIENT_RATE_LIMIT_COST_PER_REQUEST', {
    min: 1,
    max: 100_000_000,
    default: 100,
    doc: 'Query cost one request covers: an operation counts as ⌈cost / this⌉ requests (at least 1), so clients sending expensive queries run out first.',
  }),
  routerSecret: rotating(
    secret('ROUTER_SECRET', {
      min: ROUTER_SECRET_MIN_LENGTH,
      max: ROUTER_SECRET_MAX_LENGTH,
      unit: 'characters',
      defaultDoc: 'unset: in production only admins read `_service`',
      doc: 'Shared secret a router or composition tool sends in `x-router-secret` to read `_service { sdl }` in production.',
    }),
    'none',
  ),
};

export const secretFields = {
  webhookGraceSeconds: integer('WEBHOOK_SECRET_GRACE_SECONDS', {
    min: 0,
    max: 604_800,
    default: 3_600, // 1 h
    unit: 's',
    doc: 'After a webhook secret file changes (a signing secret, an auth token, a verification key), deliveries signed with the old one are still accepted this long.',
  }),
  jwtGraceSeconds: integer('JWT_SECRET_GRACE_SECONDS', {
    min: 0,
    max: 604_800,
    default: 3_600, // 1 h
    unit: 's',
    doc: 'After `JWT_SECRET_FILE` changes, client tokens signed with the old secret are still accepted this long (set `0` after a leak).',
  }),
  pollIntervalMs: integer('SECRETS_POLL_INTERVAL_MS', {
    min: 0,
    max: 3_600_000,
    default: 5_000, // 5 s
    unit: 'ms',
    expected: 'milliseconds 0..3600000 (0 turns the poll off)',
    doc: 'Secret files are read again this often, besides watching their directories and SIGHUP; `0`: no poll.',
  }),
};

export const accountsFields = {
  databaseUrl: custom<string | undefined>('DATABASE_URL', {
    secret: true,
    expected: 'a postgres:// or postgresql:// URL',
    parse: (raw) => (/^postgres(ql)?:\/\/[^\s]+$/.test(raw.trim()) ? raw.trim() : undefined),
    defaultDoc: 'unset: embedded PGlite in `.junction/pglite`; production: required',
    doc: 'PostgreSQL for connected accounts. Read at startup (a changed file needs a restart).',
  }),
  encryptionKeys: rotating(
    custom<EncryptionKey[] | undefined>('TOKEN_ENCRYPTION_KEYS', {
      secret: true,
      expected: 'a key ring `kid:base64key,...` (32-byte keys, at most 16)',
      // parseKeyRing's messages name positions and key ids, never key material.
      parse: (raw) => parseKeyRing(raw),
      defaultDoc: 'demo: generated once into `.junction/demo-secrets.json`; production: required',
      doc: 'Key ring for per-user tokens at rest: the first key encrypts, all decrypt. Re-read from its file while running.',
    }),
    'none',
  ),
  returnUrls: text('OAUTH_RETURN_URLS', {
    expected: 'comma-separated origins or origin+path prefixes',
    defaultDoc:
      'the playground (`PUBLIC_BASE_URL/graphql`, else `http://localhost:PORT/graphql` and `http://127.0.0.1:PORT/graphql`)',
    doc: 'Where the OAuth callback may send the browser back (https outside loopback in production).',
  }),
};

/** The sections in README order (providers follow, from the registry). */
export const CONFIG_SECTIONS: readonly DocumentedSection[] = [
  { title: 'Service', fields: coreFields },
  { title: 'Client tokens', fields: jwtFields },
  { title: 'HTTP server and shutdown', fields: httpFields },
  { title: 'Upstream calls and cache', fields: upstreamFields },
  { title: 'Resilience policies', fields: policyFields },
  { title: 'GraphQL edge', fields: graphqlFields },
  { title: 'Secrets that rotate', fields: secretFields },
  { title: 'Load shedding', fields: loadSheddingFields },
  { title: 'Connected accounts', fields: accountsFields },
  { title: 'Shared state (replicas)', fields: stateFields },
  ...providerModules.map((m) => ({
    title: m.config.title,
    fields: { ...m.config.remote, ...m.config.settings },
  })),
];

export type NodeEnv = Values<typeof coreFields>['nodeEnv'];

export interface AccountsConfig {
  /** DATABASE_URL; unset: embedded PGlite in the demo-state directory. */
  databaseUrl: string | undefined;
  /** TOKEN_ENCRYPTION_KEYS parsed (re-read from its file while running); unset: a demo key. */
  encryptionKeys: Secret<EncryptionKey[]> | undefined;
  returnUrls: ReturnUrlRule[];
  /** How long a begun connection may be completed, in ms (10 min). */
  stateTtlMs: number;
  /** Refresh a user's token this long before it expires, in ms (60 s). */
  refreshSkewMs: number;
}

export interface Config {
  nodeEnv: NodeEnv;
  isProduction: boolean;
  port: number;
  host: string;
  logLevel: Values<typeof coreFields>['logLevel'];
  publicBaseUrl: string | undefined;
  jwt: Omit<Values<typeof jwtFields>, 'secret'> & {
    /** HS256 secret; absent when a JWKS URL is used. In demo mode, the generated one. */
    secret: Secret<string> | undefined;
    /** True when the secret is demo mode's generated one (never in production). */
    isDemoSecret: boolean;
  };
  http: Pick<Values<typeof httpFields>, 'requestTimeoutMs' | 'keepAliveTimeoutMs'>;
  shutdownGraceMs: number;
  shutdownReadinessDelayMs: number;
  upstream: Omit<Values<typeof upstreamFields>, 'concurrency' | 'cacheMaxBytes'>;
  cache: { maxBytes: number };
  policies: {
    retry: Pick<
      Values<typeof policyFields>,
      'maxAttempts' | 'baseDelayMs' | 'maxDelayMs' | 'maxRetryAfterMs'
    >;
    retryBudgetRatio: number;
    breaker: Pick<
      Values<typeof policyFields>,
      'failureRateThreshold' | 'minimumRequests' | 'samplingWindowMs' | 'halfOpenAfterMs' | 'probeTimeoutMs'
    >;
    rateLimitMaxWaitMs: number;
    rateLimitMaxPauseMs: number;
    concurrency: number;
  };
  graphql: Pick<
    Values<typeof graphqlFields>,
    'operationTimeoutMs' | 'introspection' | 'playground' | 'batching' | 'upstreamReport' | 'allowlistPath'
  > & {
    limits: Pick<
      Values<typeof graphqlFields>,
      'maxDepth' | 'maxAliases' | 'maxDirectives' | 'maxTokens' | 'maxCost'
    >;
    ws: { maxSubscriptions: number; maxConnectionsPerViewer: number };
  };
  clientRateLimit: { perMinute: number; costPerRequest: number };
  federation: { routerSecret: Secret<string> | undefined };
  /** Secrets given as files: how often they are re-read besides watching, and the grace periods. */
  secrets: Values<typeof secretFields>;
  /** Load shedding (loadShedding.ts): 503 + Retry-After at once while over a limit. */
  loadShedding: LoadSheddingLimits;
  /** OpenTelemetry traces, from the standard OTEL_* variables. Off unless an exporter is configured. */
  tracing: TracingConfig;
  /** What replicas share through Redis (REDIS_URL); unset: every store is in-process. */
  state: StateConfig;
  accounts: AccountsConfig;
  /** Each provider: remote (its variables) or simulated (demo mode), with its settings. */
  providers: Record<ProviderName, ProviderConfig>;
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

export function isConfigError(error: unknown): error is ConfigError {
  return error instanceof ConfigError;
}

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
  const isProduction = env.NODE_ENV === 'production';
  const source = createSource(env, { isProduction }, readFile, problems, options.now ?? Date.now);
  // First: the grace periods every rotating secret read below is built with.
  const secrets = readSection(secretFields, source);
  source.graceMs.webhook = secrets.webhookGraceSeconds * 1000;
  source.graceMs.jwt = secrets.jwtGraceSeconds * 1000;
  const core = readSection(coreFields, source);

  // A secret set but empty is refused rather than read as unset: it is a secret that failed to arrive.
  if (env.JWT_SECRET === '' && !env.JWT_SECRET_FILE)
    problems.push(`JWT_SECRET: empty; unset it or give at least ${MIN_JWT_SECRET_BYTES} bytes`);
  if (env.ROUTER_SECRET === '' && !env.ROUTER_SECRET_FILE)
    problems.push(`ROUTER_SECRET: expected ${graphqlFields.routerSecret.expected}, got an empty value`);
  const jwt = readSection(jwtFields, source);
  if (jwt.secret !== undefined && jwt.jwksUrl !== undefined)
    problems.push('JWT_SECRET, JWT_JWKS_URL: set one, not both');
  const jwtConfigured =
    source.isSet(jwtFields.secret) || source.isSet(jwtFields.jwksUrl) || env.JWT_SECRET !== undefined;
  if (isProduction && !jwtConfigured) problems.push('JWT_SECRET or JWT_JWKS_URL: required in production');

  const providers = readProviders(source, core.publicBaseUrl);
  const http = readSection(httpFields, source);
  const upstream = readSection(upstreamFields, source);
  const policy = readSection(policyFields, source);
  const graphql = readSection(graphqlFields, source);

  // A generated secret is fine for a demo nobody else can reach, and nothing more.
  const remoteProviders = Object.entries(providers)
    .filter(([, p]) => p.mode === 'remote')
    .map(([name]) => name);
  const exposed = !isLoopbackHost(core.host);
  if (!isProduction && !jwtConfigured && (remoteProviders.length > 0 || exposed)) {
    const why = [
      ...(remoteProviders.length > 0 ? [`a provider is remote (${remoteProviders.join(', ')})`] : []),
      ...(exposed ? [`HOST ${JSON.stringify(core.host)} is not a loopback address`] : []),
    ];
    problems.push(
      `JWT_SECRET or JWT_JWKS_URL: required when ${why.join(' and ')}; demo mode's generated secret is for loopback only`,
    );
  }
  const isDemoSecret = !isProduction && !jwtConfigured && remoteProviders.length === 0 && !exposed;

  const config: Config = {
    nodeEnv: core.nodeEnv,
    isProduction,
    port: core.port,
    host: core.host,
    logLevel: core.logLevel,
    publicBaseUrl: core.publicBaseUrl,
    jwt: { ...jwt, isDemoSecret },
    http: { requestTimeoutMs: http.requestTimeoutMs, keepAliveTimeoutMs: http.keepAliveTimeoutMs },
    shutdownGraceMs: http.shutdownGraceMs,
    shutdownReadinessDelayMs: http.shutdownReadinessDelayMs,
    upstream: {
      connections: upstream.connections,
      keepAliveTimeoutMs: upstream.keepAliveTimeoutMs,
      connectTimeoutMs: upstream.connectTimeoutMs,
      attemptTimeoutMs: upstream.attemptTimeoutMs,
      maxResponseBytes: upstream.maxResponseBytes,
    },
    cache: { maxBytes: upstream.cacheMaxBytes },
    policies: {
      retry: {
        maxAttempts: policy.maxAttempts,
        baseDelayMs: policy.baseDelayMs,
        maxDelayMs: policy.maxDelayMs,
        maxRetryAfterMs: policy.maxRetryAfterMs,
      },
      retryBudgetRatio: policy.retryBudgetRatio,
      breaker: {
        failureRateThreshold: policy.failureRateThreshold,
        minimumRequests: policy.minimumRequests,
        samplingWindowMs: policy.samplingWindowMs,
        halfOpenAfterMs: policy.halfOpenAfterMs,
        probeTimeoutMs: policy.probeTimeoutMs,
      },
      rateLimitMaxWaitMs: policy.rateLimitMaxWaitMs,
      rateLimitMaxPauseMs: policy.rateLimitMaxPauseMs,
      concurrency: upstream.concurrency,
    },
    graphql: {
      operationTimeoutMs: graphql.operationTimeoutMs,
      introspection: graphql.introspection,
      playground: graphql.playground,
      batching: graphql.batching,
      upstreamReport: graphql.upstreamReport,
      allowlistPath: graphql.allowlistPath,
      limits: {
        maxDepth: graphql.maxDepth,
        maxAliases: graphql.maxAliases,
        maxDirectives: graphql.maxDirectives,
        maxTokens: graphql.maxTokens,
        maxCost: graphql.maxCost,
      },
      ws: {
        maxSubscriptions: graphql.wsMaxSubscriptions,
        maxConnectionsPerViewer: graphql.wsMaxConnectionsPerViewer,
      },
    },
    clientRateLimit: {
      perMinute: graphql.clientRateLimitPerMinute,
      costPerRequest: graphql.clientRateLimitCostPerRequest,
    },
    federation: { routerSecret: graphql.routerSecret },
    secrets,
    loadShedding: readSection(loadSheddingFields, source),
    tracing: readTracingConfig(source),
    state: readStateConfig(source),
    accounts: readAccounts(source, { port: core.port, publicBaseUrl: core.publicBaseUrl }),
    providers,
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
 * Each provider of the registry: remote when any of its remote variables is set (then all are
 * required), a simulator when none is and we are not in production, a startup error otherwise.
 */
function readProviders(
  source: ConfigSource,
  publicBaseUrl: string | undefined,
): Record<ProviderName, ProviderConfig> {
  const out: Record<string, ProviderConfig> = {};
  const { isProduction } = source.ctx;
  for (const module of providerModules) {
    const settings = readSection(module.config.settings, source);
    const mode = providerMode(module, source);
    if (mode === 'remote') {
      const remote: Record<string, unknown> = {};
      for (const [key, variable] of Object.entries(module.config.remote)) {
        if (!source.isSet(variable)) {
          source.problems.push(
            `${variable.name}: required${isProduction ? ' in production' : ' when the provider is configured'}`,
          );
          continue;
        }
        remote[key] = readVariable(variable, source);
      }
      out[module.name] = { mode, remote: remote as RemoteValues<Fields>, settings };
    } else {
      out[module.name] = { mode, settings };
    }
    source.problems.push(
      ...(module.config.check?.({ mode, settings }, { isProduction, publicBaseUrl }) ?? []),
    );
  }
  return out as Record<ProviderName, ProviderConfig>;
}

function providerMode(module: AnyProviderModule, source: ConfigSource): 'remote' | 'simulator' {
  const anySet = Object.values(module.config.remote).some((v) => source.isSet(v));
  return anySet || source.ctx.isProduction ? 'remote' : 'simulator';
}

/**
 * Connected accounts. DATABASE_URL and TOKEN_ENCRYPTION_KEYS are secrets (a password, keys): their
 * problems are named, never their values.
 */
function readAccounts(
  source: ConfigSource,
  context: { port: number; publicBaseUrl: string | undefined },
): AccountsConfig {
  const { isProduction } = source.ctx;
  const fields = readSection(accountsFields, source);
  if (isProduction && fields.databaseUrl === undefined && !source.isSet(accountsFields.databaseUrl))
    source.problems.push('DATABASE_URL: required in production');
  if (isProduction && fields.encryptionKeys === undefined && !source.isSet(accountsFields.encryptionKeys))
    source.problems.push('TOKEN_ENCRYPTION_KEYS: required in production');
  const playground = context.publicBaseUrl
    ? `${context.publicBaseUrl.replace(/\/+$/, '')}/graphql`
    : `http://localhost:${context.port}/graphql,http://127.0.0.1:${context.port}/graphql`;
  let returnUrls: ReturnUrlRule[] = [];
  try {
    returnUrls = parseReturnUrlRules(fields.returnUrls ?? playground, { requireHttps: isProduction });
  } catch (error) {
    source.problems.push(
      `${fields.returnUrls === undefined ? 'PUBLIC_BASE_URL' : 'OAUTH_RETURN_URLS'}: ${(error as Error).message}`,
    );
  }
  return {
    databaseUrl: fields.databaseUrl,
    encryptionKeys: fields.encryptionKeys,
    returnUrls,
    stateTtlMs: 10 * 60 * 1000, // 10 min
    refreshSkewMs: 60 * 1000, // 60 s
  };
}

function readText(path: string): string {
  return readFileSync(path, 'utf8');
}

// Environment -> typed, validated config. Every default lives here with its unit. A bad or
// missing value stops startup with one message naming every bad variable (never its value).
import { readFileSync } from 'node:fs';
import { z } from 'zod';

export type NodeEnv = 'development' | 'production' | 'test';

/** A provider either points at a real service or runs as an embedded simulator (demo mode). */
export type ProviderMode<Remote> = ({ kind: 'remote' } & Remote) | { kind: 'simulator' };

export interface UsersRemote {
  apiUrl: string;
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
}

export interface Config {
  nodeEnv: NodeEnv;
  isProduction: boolean;
  port: number;
  host: string;
  logLevel: string;
  jwt: {
    /** HS256 secret; absent when a JWKS URL is used. */
    secret: string | undefined;
    jwksUrl: string | undefined;
    issuer: string | undefined;
    audience: string | undefined;
    /** True when the secret is the built-in demo secret (never in production). */
    isDemoSecret: boolean;
  };
  users: ProviderMode<UsersRemote>;
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
  };
  /** How long SIGTERM waits for requests in flight before forcing exit, in ms. Default 10000 ms. */
  shutdownGraceMs: number;
}

/** Thrown by loadConfig; `problems` has one line per bad variable. */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Used only outside production, so `npm start` works with no setup. Never accepted in production. */
export const DEMO_JWT_SECRET = 'junction-demo-secret-not-for-production-use-0123456789';

type Env = Record<string, string | undefined>;

const SECRET_VARIABLES = new Set(['JWT_SECRET', 'USERS_CLIENT_SECRET']);

/**
 * Reads `env` (and the files named by `*_FILE` variants of secret variables) into a Config.
 * Throws ConfigError naming every problem at once.
 */
export function loadConfig(env: Env = process.env, readFile: (path: string) => string = readText): Config {
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
  const host = parse('HOST', z.string().min(1), '0.0.0.0', 'a host name or address');
  const logLevel = parse(
    'LOG_LEVEL',
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    'info',
    'one of fatal, error, warn, info, debug, trace, silent',
  );

  // Client JWTs: an HS256 secret or a JWKS URL. Production must say which; elsewhere the demo secret.
  const jwtSecret = parse('JWT_SECRET', z.string().min(32), undefined, 'at least 32 characters');
  const jwksUrl = parse('JWT_JWKS_URL', url, undefined, 'an http(s) URL');
  const issuer = parse('JWT_ISSUER', z.string().min(1), undefined, 'a string');
  const audience = parse('JWT_AUDIENCE', z.string().min(1), undefined, 'a string');
  if (jwtSecret !== undefined && jwksUrl !== undefined)
    problems.push('JWT_SECRET, JWT_JWKS_URL: set one, not both');
  const noJwtConfig = jwtSecret === undefined && jwksUrl === undefined && env.JWT_SECRET === undefined;
  if (isProduction && noJwtConfig) problems.push('JWT_SECRET or JWT_JWKS_URL: required in production');
  const isDemoSecret = !isProduction && noJwtConfig;

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

  const config: Config = {
    nodeEnv,
    isProduction,
    port,
    host,
    logLevel,
    jwt: {
      secret: jwtSecret ?? (isDemoSecret ? DEMO_JWT_SECRET : undefined),
      jwksUrl,
      issuer,
      audience,
      isDemoSecret,
    },
    users,
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
    usersProvider: {
      maxBatch: parse('USERS_MAX_BATCH', int(1, 1000), 100, 'an integer 1..1000'),
      cacheTtlSeconds: parse('USERS_CACHE_TTL_SECONDS', int(0, 86_400), 30, 'seconds 0..86400'),
      staleWhileRevalidateSeconds: parse('USERS_CACHE_SWR_SECONDS', int(0, 86_400), 30, 'seconds 0..86400'),
      staleIfErrorSeconds: parse('USERS_CACHE_SIE_SECONDS', int(0, 86_400), 300, 'seconds 0..86400'),
    },
    graphql: {
      operationTimeoutMs: parse('OPERATION_TIMEOUT_MS', int(1, 300_000), 10_000, 'milliseconds 1..300000'),
      introspection: parse('GRAPHQL_INTROSPECTION', booleanString, !isProduction, 'true or false'),
    },
    shutdownGraceMs: parse('SHUTDOWN_GRACE_MS', int(0, 600_000), 10_000, 'milliseconds 0..600000'),
  };

  if (problems.length > 0) throw new ConfigError(problems);
  return config;
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

// config.ts: defaults, validation, and the production rules.
import { describe, expect, it } from 'vitest';
import { ConfigError, isLoopbackHost, loadConfig } from '../../../src/config.js';
import type { Secret } from '../../../src/secrets.js';

const usersEnv = {
  USERS_API_URL: 'https://users.internal',
  USERS_TOKEN_URL: 'https://auth.internal/oauth/token',
  USERS_CLIENT_ID: 'junction',
  USERS_CLIENT_SECRET: 's3cr3t-value',
};
const providersEnv = {
  STRIPE_SECRET_KEY: 'sk_live_abc',
  STRIPE_WEBHOOK_SECRET: 'whsec_old, whsec_new',
  TWILIO_ACCOUNT_SID: 'AC00000000000000000000000000000000',
  TWILIO_AUTH_TOKEN: 'tw-token',
  TWILIO_FROM_NUMBER: '+15005550006',
  PUBLIC_BASE_URL: 'https://junction.example.com',
  SENDGRID_API_KEY: 'SG.key',
  SENDGRID_FROM_EMAIL: 'noreply@example.com',
  SENDGRID_WEBHOOK_PUBLIC_KEY:
    'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEkBP93U+to8skDfqHs69p9iz5jQ/MwTLUdd/qaaYkFYcVeMXLTdz1YHGuEVE83chBKwGdLTM1PgA8dpf9NbXzQ==',
  DATABASE_URL: 'postgres://junction@db.internal/junction',
  TOKEN_ENCRYPTION_KEYS: `k1:${'A'.repeat(43)}=`,
  GITHUB_CLIENT_ID: 'Ov23liAbCdEf012345',
  GITHUB_CLIENT_SECRET: 'gh-client-secret-value',
  GITHUB_WEBHOOK_SECRET: 'gh-hook-old,gh-hook-new',
};

const JWT_SECRET = 'a-configured-secret-that-is-long-enough-0123';

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env, () => {
      throw new Error('no file');
    });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('runs every unconfigured provider as a simulator outside production, on loopback, with the demo secret', () => {
    const config = loadConfig({}, undefined, { demoJwtSecret: () => 'd'.repeat(43) });
    expect(config.port).toBe(4000);
    expect(config.host).toBe('127.0.0.1');
    expect(config.providers.users).toMatchObject({ mode: 'simulator' });
    expect(config.providers.users).not.toHaveProperty('remote');
    expect(config.jwt).toMatchObject({ isDemoSecret: true, requireExp: true });
    expect(config.jwt.secret?.current()).toBe('d'.repeat(43));
    expect(config.graphql.introspection).toBe(true);
  });

  it('has no signing secret of its own: without a source, each load gets a fresh random one', () => {
    const a = loadConfig({}).jwt.secret!.current();
    const b = loadConfig({}).jwt.secret!.current();
    expect(Buffer.byteLength(a)).toBeGreaterThanOrEqual(32);
    expect(a).not.toBe(b);
  });

  it('asks for the demo secret only when demo mode needs it, and only for a valid configuration', () => {
    let asked = 0;
    const demoJwtSecret = () => {
      asked += 1;
      return 'd'.repeat(43);
    };
    loadConfig({ JWT_SECRET }, undefined, { demoJwtSecret });
    expect(() => loadConfig({ PORT: 'eighty' }, undefined, { demoJwtSecret })).toThrow(ConfigError);
    expect(asked).toBe(0);
    expect(() => loadConfig({}, undefined, { demoJwtSecret: () => 'short' })).toThrow(/demo JWT secret/);
  });

  it('binds 0.0.0.0 by default in production only', () => {
    const config = loadConfig({ NODE_ENV: 'production', JWT_SECRET, ...usersEnv, ...providersEnv });
    expect(config.host).toBe('0.0.0.0');
  });

  it('requires JWT_SECRET or JWT_JWKS_URL when a provider is remote, naming it', () => {
    const list = problems({ ...usersEnv });
    expect(list).toEqual([
      "JWT_SECRET or JWT_JWKS_URL: required when a provider is remote (users); demo mode's generated secret is for loopback only",
    ]);
    expect(problems({ STRIPE_SECRET_KEY: 'sk_test_x' })[0]).toContain('a provider is remote (stripe)');
    expect(loadConfig({ ...usersEnv, JWT_SECRET }).jwt.secret?.current()).toBe(JWT_SECRET);
    expect(loadConfig({ ...usersEnv, JWT_SECRET }).jwt).toMatchObject({
      isDemoSecret: false,
    });
    expect(loadConfig({ ...usersEnv, JWT_JWKS_URL: 'https://idp.example/jwks.json' }).jwt.jwksUrl).toBe(
      'https://idp.example/jwks.json',
    );
  });

  it('requires JWT_SECRET or JWT_JWKS_URL when HOST is not loopback', () => {
    for (const host of ['0.0.0.0', '::', '192.168.1.10', 'junction.internal']) {
      expect(problems({ HOST: host }), host).toEqual([
        `JWT_SECRET or JWT_JWKS_URL: required when HOST ${JSON.stringify(host)} is not a loopback address; demo mode's generated secret is for loopback only`,
      ]);
    }
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', 'localhost', '[::1]']) {
      expect(loadConfig({ HOST: host }).jwt.isDemoSecret, host).toBe(true);
    }
    expect(loadConfig({ HOST: '0.0.0.0', JWT_SECRET }).host).toBe('0.0.0.0');
  });

  it('refuses an empty or short JWT_SECRET at startup, never echoing it', () => {
    expect(problems({ JWT_SECRET: '' })).toEqual(['JWT_SECRET: empty; unset it or give at least 32 bytes']);
    const short = 'x'.repeat(31);
    const list = problems({ JWT_SECRET: short });
    expect(list).toEqual(['JWT_SECRET: expected at least 32 bytes (HS256 key strength), at most 4096']);
    // Bytes, not characters: 11 three-byte characters are 33 bytes.
    expect(loadConfig({ JWT_SECRET: '€'.repeat(11) }).jwt.secret?.current()).toBe('€'.repeat(11));
    expect(problems({ JWT_SECRET: '€'.repeat(10) })).toHaveLength(1);
    // An empty JWT_SECRET is not "unset": it never falls back to the demo secret.
    expect(problems({ JWT_SECRET: '', HOST: '127.0.0.1' }).join('\n')).toContain('JWT_SECRET: empty');
  });

  it('reads JWT_REQUIRE_EXP and JWT_MAX_TOKEN_LIFETIME_SECONDS with their defaults and bounds', () => {
    expect(loadConfig({}).jwt).toMatchObject({ requireExp: true, maxTokenLifetimeSeconds: 86_400 });
    expect(
      loadConfig({ JWT_REQUIRE_EXP: 'false', JWT_MAX_TOKEN_LIFETIME_SECONDS: '3600' }).jwt,
    ).toMatchObject({ requireExp: false, maxTokenLifetimeSeconds: 3600 });
    expect(problems({ JWT_REQUIRE_EXP: 'maybe', JWT_MAX_TOKEN_LIFETIME_SECONDS: '0' })).toEqual([
      'JWT_REQUIRE_EXP: expected true or false, got "maybe"',
      'JWT_MAX_TOKEN_LIFETIME_SECONDS: expected seconds 60..31536000, got "0"',
    ]);
  });

  it('reads the HTTP timeouts and the shutdown readiness delay (5 s in production, 0 elsewhere)', () => {
    const dev = loadConfig({});
    expect(dev.http).toEqual({ requestTimeoutMs: 30_000, keepAliveTimeoutMs: 72_000 });
    expect(dev.shutdownReadinessDelayMs).toBe(0);
    const prod = loadConfig({ NODE_ENV: 'production', JWT_SECRET, ...usersEnv, ...providersEnv });
    expect(prod.shutdownReadinessDelayMs).toBe(5_000);
    const set = loadConfig({
      HTTP_REQUEST_TIMEOUT_MS: '500',
      HTTP_KEEPALIVE_TIMEOUT_MS: '1000',
      SHUTDOWN_READINESS_DELAY_MS: '2000',
    });
    expect(set.http).toEqual({ requestTimeoutMs: 500, keepAliveTimeoutMs: 1000 });
    expect(set.shutdownReadinessDelayMs).toBe(2000);
    expect(problems({ HTTP_REQUEST_TIMEOUT_MS: '0', SHUTDOWN_READINESS_DELAY_MS: '-1' })).toEqual([
      'HTTP_REQUEST_TIMEOUT_MS: expected milliseconds 100..600000, got "0"',
      'SHUTDOWN_READINESS_DELAY_MS: expected milliseconds 0..600000, got "-1"',
    ]);
  });

  it('keeps STRIPE_WEBHOOK_SECRET when Stripe is simulated (stripe listen --forward-to in demo mode)', () => {
    const config = loadConfig({ STRIPE_WEBHOOK_SECRET: 'whsec_from_cli' });
    expect(config.providers.stripe.mode).toBe('simulator');
    const stripe = config.providers.stripe.settings as { webhookSecrets: Secret<string[]> };
    expect(stripe.webhookSecrets.current()).toEqual(['whsec_from_cli']);
  });

  it('names every missing variable in production, in one error', () => {
    const list = problems({ NODE_ENV: 'production' });
    expect(list.join('\n')).toMatch(/USERS_API_URL/);
    for (const name of [
      'USERS_API_URL',
      'USERS_TOKEN_URL',
      'USERS_CLIENT_ID',
      'USERS_CLIENT_SECRET',
      'JWT_SECRET',
    ]) {
      expect(list.some((p) => p.includes(name))).toBe(true);
    }
  });

  it('requires PUBLIC_BASE_URL once Twilio is configured (its signatures cover that URL)', () => {
    const { PUBLIC_BASE_URL: _u, ...rest } = providersEnv;
    expect(problems({ ...rest }).some((p) => p.startsWith('PUBLIC_BASE_URL'))).toBe(true);
  });

  it('requires the whole users configuration once any part is set', () => {
    const list = problems({ USERS_API_URL: 'https://users.internal', JWT_SECRET });
    expect(list).toEqual([
      'USERS_TOKEN_URL: required when the provider is configured',
      'USERS_CLIENT_ID: required when the provider is configured',
      'USERS_CLIENT_SECRET: required when the provider is configured',
    ]);
  });

  it('rejects malformed values, naming each, without echoing secrets', () => {
    const list = problems({
      PORT: 'eighty',
      LOG_LEVEL: 'loud',
      USERS_MAX_BATCH: '0',
      JWT_SECRET: 'short-secret',
      ...usersEnv,
      USERS_API_URL: 'ftp://x',
    });
    expect(list).toHaveLength(5);
    expect(list.join('\n')).toContain('PORT: expected an integer 0..65535, got "eighty"');
    expect(list.join('\n')).toContain('USERS_API_URL: expected an http(s) URL');
    expect(list.join('\n')).not.toContain('short-secret');
  });

  it('accepts a full production configuration and turns introspection off', () => {
    const config = loadConfig({
      NODE_ENV: 'production',
      JWT_SECRET: 'x'.repeat(40),
      ...usersEnv,
      ...providersEnv,
      DATABASE_URL: 'postgres://junction@db.internal/junction',
      TOKEN_ENCRYPTION_KEYS: `k1:${'A'.repeat(43)}=`,
    });
    expect(config.providers.stripe).toMatchObject({
      mode: 'remote',
      settings: { apiBase: 'https://api.stripe.com' },
    });
    const stripe = config.providers.stripe.settings as { webhookSecrets: Secret<string[]> };
    expect(stripe.webhookSecrets.current()).toEqual(['whsec_old', 'whsec_new']);
    expect(config.providers.twilio).toMatchObject({ mode: 'remote' });
    expect(config.publicBaseUrl).toBe('https://junction.example.com');
    expect(config.providers.users).toMatchObject({
      mode: 'remote',
      remote: { apiUrl: usersEnv.USERS_API_URL, tokenUrl: usersEnv.USERS_TOKEN_URL, clientId: 'junction' },
    });
    const users = config.providers.users as unknown as { remote: { clientSecret: Secret<string> } };
    expect(users.remote.clientSecret.current()).toBe('s3cr3t-value');
    expect(config.providers.github).toMatchObject({
      mode: 'remote',
      remote: { clientId: 'Ov23liAbCdEf012345' },
      settings: {
        apiBase: 'https://api.github.com',
        oauthBase: 'https://github.com',
        scopes: ['read:user', 'repo'],
        ratePerSecond: 10,
        cacheTtlSeconds: 60,
      },
    });
    const github = config.providers.github as unknown as {
      remote: { clientSecret: Secret<string> };
      settings: { webhookSecrets: Secret<string[]> };
    };
    expect(github.remote.clientSecret.current()).toBe('gh-client-secret-value');
    expect(github.settings.webhookSecrets.current()).toEqual(['gh-hook-old', 'gh-hook-new']);
    expect(config.graphql.introspection).toBe(false);
    expect(config.jwt.isDemoSecret).toBe(false);
  });

  it('requires GitHub whole once any part is set, and its webhook secret in production, never echoing secrets', () => {
    expect(problems({ GITHUB_CLIENT_ID: 'Ov23liAbCdEf012345', JWT_SECRET })).toEqual([
      'GITHUB_CLIENT_SECRET: required when the provider is configured',
    ]);
    const { GITHUB_WEBHOOK_SECRET: _w, ...noHookSecret } = providersEnv;
    const list = problems({ NODE_ENV: 'production', JWT_SECRET, ...usersEnv, ...noHookSecret });
    expect(list).toEqual(['GITHUB_WEBHOOK_SECRET: required in production']);
    const bad = problems({
      JWT_SECRET,
      GITHUB_CLIENT_ID: 'has spaces',
      GITHUB_CLIENT_SECRET: 'gh-client-secret-value',
      GITHUB_SCOPES: 'repo,NOT A SCOPE',
      GITHUB_RATE_LIMIT_PER_SECOND: '0',
    });
    expect(bad.map((p) => p.split(':')[0]).sort()).toEqual([
      'GITHUB_CLIENT_ID',
      'GITHUB_RATE_LIMIT_PER_SECOND',
      'GITHUB_SCOPES',
    ]);
    expect(bad.join('\n')).not.toContain('gh-client-secret-value');
  });

  it('reads secrets from the file a *_FILE variable names', () => {
    const config = loadConfig(
      { ...usersEnv, JWT_SECRET, USERS_CLIENT_SECRET: '', USERS_CLIENT_SECRET_FILE: '/run/secrets/users' },
      (path) => (path === '/run/secrets/users' ? 'from-file\n' : ''),
    );
    const users = config.providers.users as unknown as { remote: { clientSecret: Secret<string> } };
    expect(users.remote.clientSecret.current()).toBe('from-file');
    expect(users.remote.clientSecret.file).toBe('/run/secrets/users');
  });
});

describe('isLoopbackHost', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.255.0.9', true],
    ['::1', true],
    ['[::1]', true],
    ['localhost', true],
    ['LOCALHOST', true],
    ['0.0.0.0', false],
    ['::', false],
    ['10.0.0.1', false],
    ['::ffff:10.0.0.1', false],
    ['example.com', false],
    ['127.0.0.1.example.com', false],
  ])('%s -> %s', (host, expected) => {
    expect(isLoopbackHost(host)).toBe(expected);
  });
});

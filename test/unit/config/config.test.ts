// config.ts: defaults, validation, and the production rules.
import { describe, expect, it } from 'vitest';
import { ConfigError, DEMO_JWT_SECRET, loadConfig } from '../../../src/config.js';

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
  SENDGRID_WEBHOOK_PUBLIC_KEY: 'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE',
};

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
  it('runs every unconfigured provider as a simulator outside production, with the demo secret', () => {
    const config = loadConfig({});
    expect(config.port).toBe(4000);
    expect(config.host).toBe('0.0.0.0');
    expect(config.users).toEqual({ kind: 'simulator' });
    expect(config.jwt).toMatchObject({ secret: DEMO_JWT_SECRET, isDemoSecret: true });
    expect(config.graphql.introspection).toBe(true);
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
    const list = problems({ USERS_API_URL: 'https://users.internal' });
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
    expect(config.stripe).toMatchObject({
      kind: 'remote',
      apiBase: 'https://api.stripe.com',
      webhookSecrets: ['whsec_old', 'whsec_new'],
    });
    expect(config.twilio).toMatchObject({ kind: 'remote', publicBaseUrl: 'https://junction.example.com' });
    expect(config.users).toEqual({
      kind: 'remote',
      apiUrl: usersEnv.USERS_API_URL,
      tokenUrl: usersEnv.USERS_TOKEN_URL,
      clientId: 'junction',
      clientSecret: 's3cr3t-value',
    });
    expect(config.graphql.introspection).toBe(false);
    expect(config.jwt.isDemoSecret).toBe(false);
  });

  it('reads secrets from the file a *_FILE variable names', () => {
    const config = loadConfig(
      { ...usersEnv, USERS_CLIENT_SECRET: '', USERS_CLIENT_SECRET_FILE: '/run/secrets/users' },
      (path) => (path === '/run/secrets/users' ? 'from-file\n' : ''),
    );
    expect(config.users).toMatchObject({ clientSecret: 'from-file' });
  });
});

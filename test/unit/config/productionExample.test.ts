// test/fixtures/production.env, the README's production example: it is a valid env file (docker
// --env-file, a shell's `set -a; .`), and loadConfig accepts it as is once its secret files exist.
// In production no provider may be left out: dropping any one names its missing variables.
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type ConfigError, loadConfig } from '../../../src/config.js';

const EXAMPLE = new URL('../../fixtures/production.env', import.meta.url);

function exampleEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of readFileSync(EXAMPLE, 'utf8').split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    // docker --env-file takes NAME=value literally: no quotes, no `export`, no spaces around `=`.
    expect(line).toMatch(/^[A-Z][A-Z0-9_]*=[^\s"'`$]+$/);
    const eq = line.indexOf('=');
    env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return env;
}

/** What the orchestrator would mount at each path the example names. */
const SECRET_FILES: Record<string, string> = {
  '/run/secrets/jwt-secret': 'a-production-hs256-secret-of-at-least-32-bytes',
  '/run/secrets/users-client-secret': 'users-client-secret',
  '/run/secrets/stripe-secret-key': 'sk_live_example',
  '/run/secrets/stripe-webhook-secret': 'whsec_example',
  '/run/secrets/twilio-auth-token': '0123456789abcdef0123456789abcdef',
  '/run/secrets/sendgrid-api-key': 'SG.example',
  '/run/secrets/sendgrid-webhook-public-key': generateKeyPairSync('ec', { namedCurve: 'P-256' })
    .publicKey.export({ format: 'der', type: 'spki' })
    .toString('base64'),
  '/run/secrets/database-url': 'postgres://junction:password@db.internal.example.com:5432/junction',
  '/run/secrets/token-encryption-keys': `k1:${Buffer.alloc(32, 7).toString('base64')}`,
  '/run/secrets/github-client-secret': 'github-client-secret',
  '/run/secrets/github-webhook-secret': 'github-webhook-secret',
};

function readSecret(read: Set<string>) {
  return (path: string) => {
    const text = SECRET_FILES[path];
    if (text === undefined) throw new Error(`no such file: ${path}`);
    read.add(path);
    return `${text}\n`;
  };
}

describe('test/fixtures/production.env', () => {
  it('starts: loadConfig accepts it, every provider remote, every secret read from its file', () => {
    const read = new Set<string>();
    const config = loadConfig(exampleEnv(), readSecret(read));
    expect(config.isProduction).toBe(true);
    expect(config.host).toBe('0.0.0.0');
    for (const provider of Object.values(config.providers)) expect(provider.mode).toBe('remote');
    expect(Object.keys(config.providers).sort()).toEqual(['github', 'sendgrid', 'stripe', 'twilio', 'users']);
    expect([...read].sort()).toEqual(Object.keys(SECRET_FILES).sort());
    expect(config.jwt.secret?.file).toBe('/run/secrets/jwt-secret');
    expect(config.accounts.databaseUrl).toBe(SECRET_FILES['/run/secrets/database-url']);
  });

  it.each([
    ['users', ['USERS_API_URL', 'USERS_TOKEN_URL', 'USERS_CLIENT_ID', 'USERS_CLIENT_SECRET']],
    ['stripe', ['STRIPE_SECRET_KEY']],
    ['twilio', ['TWILIO_ACCOUNT_SID', 'TWILIO_AUTH_TOKEN', 'TWILIO_FROM_NUMBER']],
    ['sendgrid', ['SENDGRID_API_KEY', 'SENDGRID_FROM_EMAIL']],
  ])('cannot leave %s out in production: startup names its variables', (_provider, variables) => {
    const env = exampleEnv();
    for (const name of variables) {
      delete env[name];
      delete env[`${name}_FILE`];
    }
    let problems: string[] = [];
    try {
      loadConfig(env, readSecret(new Set()));
    } catch (error) {
      problems = (error as ConfigError).problems;
    }
    expect(problems).toEqual(variables.map((name) => `${name}: required in production`));
  });
});

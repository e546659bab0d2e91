// config.ts, runtime sections: load-shedding thresholds, secret files (poll, grace periods), and
// secrets read from files as Secret handles that validate their new values as startup does.
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { EncryptionKey } from '../../../src/accounts/crypto.js';
import { type ConfigError, loadConfig } from '../../../src/config.js';
import { type FileSecret, isSecretValueError } from '../../../src/secrets.js';

function problems(env: Record<string, string>, files: Record<string, string> = {}): string[] {
  try {
    loadConfig(env, (path) => {
      const text = files[path];
      if (text === undefined) throw new Error('no file');
      return text;
    });
  } catch (error) {
    return (error as ConfigError).problems;
  }
  return [];
}

const ecKey = () =>
  generateKeyPairSync('ec', { namedCurve: 'P-256' })
    .publicKey.export({ format: 'der', type: 'spki' })
    .toString('base64');

describe('load shedding configuration', () => {
  it('has defaults that do not trip in normal use, and reads every threshold', () => {
    expect(loadConfig({}).loadShedding).toEqual({
      maxInFlight: 1024,
      maxEventLoopDelayMs: 0,
      maxEventLoopUtilization: 0,
      maxHeapUsedBytes: 0,
      maxRssBytes: 0,
      retryAfterSeconds: 2,
      sampleIntervalMs: 500,
    });
    expect(
      loadConfig({
        LOAD_SHED_MAX_IN_FLIGHT: '64',
        LOAD_SHED_MAX_EVENT_LOOP_DELAY_MS: '0',
        LOAD_SHED_MAX_EVENT_LOOP_UTILIZATION: '0.95',
        LOAD_SHED_MAX_HEAP_USED_BYTES: '1073741824',
        LOAD_SHED_MAX_RSS_BYTES: '2147483648',
        LOAD_SHED_RETRY_AFTER_SECONDS: '5',
        LOAD_SHED_SAMPLE_INTERVAL_MS: '250',
      }).loadShedding,
    ).toEqual({
      maxInFlight: 64,
      maxEventLoopDelayMs: 0,
      maxEventLoopUtilization: 0.95,
      maxHeapUsedBytes: 1_073_741_824,
      maxRssBytes: 2_147_483_648,
      retryAfterSeconds: 5,
      sampleIntervalMs: 250,
    });
  });

  it('names each bad value', () => {
    expect(
      problems({
        LOAD_SHED_MAX_EVENT_LOOP_UTILIZATION: '1.5',
        LOAD_SHED_RETRY_AFTER_SECONDS: '0',
        LOAD_SHED_SAMPLE_INTERVAL_MS: '10',
      }),
    ).toEqual([
      'LOAD_SHED_MAX_EVENT_LOOP_UTILIZATION: expected a number 0..1 (0 turns it off), got "1.5"',
      'LOAD_SHED_RETRY_AFTER_SECONDS: expected seconds 1..3600, got "0"',
      'LOAD_SHED_SAMPLE_INTERVAL_MS: expected milliseconds 100..60000, got "10"',
    ]);
  });
});

describe('secret files configuration', () => {
  it('reads the poll period and the grace periods, with their defaults', () => {
    const defaults = loadConfig({});
    expect(defaults.secrets).toEqual({
      pollIntervalMs: 5000,
      webhookGraceSeconds: 3600,
      jwtGraceSeconds: 3600,
    });
    const set = loadConfig({
      SECRETS_POLL_INTERVAL_MS: '0',
      WEBHOOK_SECRET_GRACE_SECONDS: '600',
      JWT_SECRET_GRACE_SECONDS: '0',
    });
    expect(set.secrets).toEqual({ pollIntervalMs: 0, webhookGraceSeconds: 600, jwtGraceSeconds: 0 });
    expect(problems({ WEBHOOK_SECRET_GRACE_SECONDS: '-1', JWT_SECRET_GRACE_SECONDS: 'soon' })).toEqual([
      'WEBHOOK_SECRET_GRACE_SECONDS: expected seconds 0..604800, got "-1"',
      'JWT_SECRET_GRACE_SECONDS: expected seconds 0..604800, got "soon"',
    ]);
  });

  it('gives secrets from files as handles that validate a rotated value like startup does, with their grace', () => {
    let now = 1_000_000;
    const files: Record<string, string> = {
      '/s/jwt': `${'j'.repeat(40)}\n`,
      '/s/stripe-webhook': 'whsec_a, whsec_b',
      '/s/twilio': 'tok',
    };
    const config = loadConfig(
      {
        JWT_SECRET_FILE: '/s/jwt',
        STRIPE_WEBHOOK_SECRET_FILE: '/s/stripe-webhook',
        TWILIO_ACCOUNT_SID: 'AC00000000000000000000000000000000',
        TWILIO_AUTH_TOKEN_FILE: '/s/twilio',
        TWILIO_FROM_NUMBER: '+15005550006',
        PUBLIC_BASE_URL: 'https://junction.example.com',
        WEBHOOK_SECRET_GRACE_SECONDS: '60',
        JWT_SECRET_GRACE_SECONDS: '30',
      },
      (path) => files[path] as string,
      { now: () => now },
    );
    const jwt = config.jwt.secret as FileSecret<string>;
    expect(jwt.file).toBe('/s/jwt');
    expect(jwt.current()).toBe('j'.repeat(40));
    // The same rule as at startup: too short is refused, never echoed, and the old value stays.
    let error: unknown;
    try {
      jwt.offer('short');
    } catch (e) {
      error = e;
    }
    expect(isSecretValueError(error)).toBe(true);
    expect(String(error)).toContain('JWT_SECRET: expected at least 32 bytes');
    expect(String(error)).not.toContain('short');
    jwt.offer('k'.repeat(40));
    expect(jwt.previous()).toBe('j'.repeat(40));
    now += 30_000;
    expect(jwt.previous()).toBeUndefined();

    const stripeSettings = config.providers.stripe.settings as { webhookSecrets: unknown };
    const webhook = stripeSettings.webhookSecrets as FileSecret<string[]>;
    expect(webhook.current()).toEqual(['whsec_a', 'whsec_b']);
    expect(() => webhook.offer(' , ')).toThrow(/expected one or more comma-separated secrets/);
    webhook.offer('whsec_c');
    expect(webhook.accepted()).toEqual([['whsec_c'], ['whsec_a', 'whsec_b']]);
    now += 60_000;
    expect(webhook.accepted()).toEqual([['whsec_c']]);

    const twilio = config.providers.twilio;
    if (twilio.mode !== 'remote') throw new Error('twilio: expected remote');
    expect((twilio.remote.authToken as FileSecret<string>).file).toBe('/s/twilio');
  });

  it('takes SENDGRID_WEBHOOK_PUBLIC_KEY from a file too, and refuses one that is not an ECDSA public key', () => {
    const key = ecKey();
    const config = loadConfig({ SENDGRID_WEBHOOK_PUBLIC_KEY_FILE: '/s/sg' }, () => key);
    // The key is a setting: read (and watched) whether SendGrid is simulated or remote.
    const settings = config.providers.sendgrid.settings as { webhookPublicKey?: FileSecret<string> };
    expect(settings.webhookPublicKey?.current()).toBe(key);
    const remote = loadConfig(
      {
        SENDGRID_API_KEY: 'SG.x',
        SENDGRID_FROM_EMAIL: 'a@example.com',
        SENDGRID_WEBHOOK_PUBLIC_KEY_FILE: '/s/sg',
        JWT_SECRET: 'x'.repeat(40),
      },
      () => key,
    );
    expect(remote.providers.sendgrid.mode).toBe('remote');
    const remoteSettings = remote.providers.sendgrid.settings as { webhookPublicKey?: FileSecret<string> };
    expect(remoteSettings.webhookPublicKey?.current()).toBe(key);
    expect(problems({ SENDGRID_WEBHOOK_PUBLIC_KEY: 'not-a-key' })).toEqual([
      'SENDGRID_WEBHOOK_PUBLIC_KEY: expected an ECDSA public key (base64 DER or PEM)',
    ]);
  });

  it('takes a rotated TOKEN_ENCRYPTION_KEYS file once it parses as a key ring', () => {
    const k1 = `k1:${Buffer.alloc(32, 1).toString('base64')}`;
    const k2 = `k2:${Buffer.alloc(32, 2).toString('base64')}`;
    const config = loadConfig({ TOKEN_ENCRYPTION_KEYS_FILE: '/s/keys' }, () => k1);
    const keys = config.accounts.encryptionKeys as FileSecret<EncryptionKey[]>;
    expect(keys.current().map((k) => k.id)).toEqual(['k1']);
    expect(() => keys.offer('k3:dG9vLXNob3J0')).toThrow(/TOKEN_ENCRYPTION_KEYS: key k3: expected 32 bytes/);
    keys.offer(`${k2},${k1}`);
    expect(keys.current().map((k) => k.id)).toEqual(['k2', 'k1']);
  });
});

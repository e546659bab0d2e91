// The connected-accounts block of config.ts: DATABASE_URL, TOKEN_ENCRYPTION_KEYS, OAUTH_RETURN_URLS.
import { describe, expect, it } from 'vitest';
import { type ConfigError, loadConfig } from '../../../src/config.js';

const key = Buffer.alloc(32, 1).toString('base64');

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    return (error as ConfigError).problems;
  }
  return [];
}

describe('accounts configuration', () => {
  it('defaults outside production: embedded database, demo key, the playground as return URL', () => {
    const config = loadConfig({ PORT: '4100' });
    expect(config.accounts).toEqual({
      databaseUrl: undefined,
      encryptionKeys: undefined,
      returnUrls: [
        { origin: 'http://localhost:4100', pathPrefix: '/graphql' },
        { origin: 'http://127.0.0.1:4100', pathPrefix: '/graphql' },
      ],
      stateTtlMs: 600_000,
      refreshSkewMs: 60_000,
    });
  });

  it('returns to the public playground when PUBLIC_BASE_URL is set', () => {
    const config = loadConfig({ PUBLIC_BASE_URL: 'https://junction.example.com/' });
    expect(config.accounts.returnUrls).toEqual([
      { origin: 'https://junction.example.com', pathPrefix: '/graphql' },
    ]);
  });

  it('reads the three variables', () => {
    const config = loadConfig({
      DATABASE_URL: 'postgres://junction:pw@db.internal:5432/junction',
      TOKEN_ENCRYPTION_KEYS: `k2:${key},k1:${Buffer.alloc(32, 2).toString('base64')}`,
      OAUTH_RETURN_URLS: 'https://app.example.com/settings,https://admin.example.com',
    });
    expect(config.accounts.databaseUrl).toBe('postgres://junction:pw@db.internal:5432/junction');
    expect(config.accounts.encryptionKeys?.current().map((k) => k.id)).toEqual(['k2', 'k1']);
    expect(config.accounts.returnUrls).toHaveLength(2);
  });

  it('reads DATABASE_URL and TOKEN_ENCRYPTION_KEYS from the files *_FILE names', () => {
    const files: Record<string, string> = { '/run/db': 'postgresql://u:p@h/d\n', '/run/keys': `k:${key}\n` };
    const config = loadConfig(
      { DATABASE_URL_FILE: '/run/db', TOKEN_ENCRYPTION_KEYS_FILE: '/run/keys' },
      (p) => files[p]!,
    );
    expect(config.accounts.databaseUrl).toBe('postgresql://u:p@h/d');
    expect(config.accounts.encryptionKeys?.current()[0]?.id).toBe('k');
  });

  it('requires DATABASE_URL and TOKEN_ENCRYPTION_KEYS in production', () => {
    const list = problems({ NODE_ENV: 'production' });
    expect(list).toContain('DATABASE_URL: required in production');
    expect(list).toContain('TOKEN_ENCRYPTION_KEYS: required in production');
  });

  it('names bad values without echoing them', () => {
    const list = problems({
      DATABASE_URL: 'mysql://root:hunter2@db/x',
      TOKEN_ENCRYPTION_KEYS: 'k1:dG9vLXNob3J0LXNlY3JldA==',
      OAUTH_RETURN_URLS: 'ftp://files.example.com',
    });
    expect(list).toEqual([
      'DATABASE_URL: expected a postgres:// or postgresql:// URL',
      'TOKEN_ENCRYPTION_KEYS: key k1: expected 32 bytes in base64 (44 characters)',
      'OAUTH_RETURN_URLS: expected http(s) origins or origin+path prefixes without credentials, query or fragment, got "ftp://files.example.com"',
    ]);
    expect(list.join('\n')).not.toContain('hunter2');
    expect(list.join('\n')).not.toContain('dG9vLXNob3J0LXNlY3JldA');
  });

  it('requires https return URLs outside loopback in production', () => {
    expect(problems({ NODE_ENV: 'production', OAUTH_RETURN_URLS: 'http://app.example.com' })).toContain(
      'OAUTH_RETURN_URLS: expected https outside loopback in production, got "http://app.example.com"',
    );
  });
});

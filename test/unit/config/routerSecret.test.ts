// ROUTER_SECRET in config.ts: optional, bounded, read from a file like any secret, never echoed.
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config.js';

function problemsOf(env: Record<string, string>): string[] {
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

describe('ROUTER_SECRET', () => {
  it('is unset by default', () => {
    expect(loadConfig({}).federation.routerSecret).toBeUndefined();
  });

  it('is taken when 32..512 characters long', () => {
    const secret = 'r'.repeat(32);
    expect(loadConfig({ ROUTER_SECRET: secret }).federation.routerSecret?.current()).toBe(secret);
  });

  it.each([
    ['short', 'too-short-router-secret'],
    ['long', 'x'.repeat(513)],
    ['empty', ''],
  ])('refuses a %s value, naming the variable and never the value', (_kind, value) => {
    const problems = problemsOf({ ROUTER_SECRET: value });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^ROUTER_SECRET: expected 32\.\.512 characters/);
    if (value !== '') expect(problems[0]).not.toContain(value);
  });

  it('reads ROUTER_SECRET_FILE', () => {
    const config = loadConfig({ ROUTER_SECRET_FILE: '/run/secrets/router' }, (path) =>
      path === '/run/secrets/router' ? `${'f'.repeat(40)}\n` : '',
    );
    expect(config.federation.routerSecret?.current()).toBe('f'.repeat(40));
  });
});

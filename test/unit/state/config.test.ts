// The shared-state block of config.ts: REDIS_URL (a secret: never echoed), REDIS_KEY_PREFIX and
// REDIS_COMMAND_TIMEOUT_MS, each refused with a message naming the variable.
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config.js';
import { STATE_TUNING } from '../../../src/state/config.js';

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

describe('shared state configuration', () => {
  it('defaults: no Redis (in-process state), prefix junction:, 250 ms command timeout, the fixed tuning', () => {
    const { state } = loadConfig({});
    expect(state).toEqual({
      redisUrl: undefined,
      keyPrefix: 'junction:',
      commandTimeoutMs: 250,
      tuning: STATE_TUNING,
    });
  });

  it.each([
    'redis://127.0.0.1:6379',
    'rediss://user:p%40ss@redis.internal:6380/2',
    'redis://:only-password@localhost',
  ])('takes %s', (url) => {
    expect(loadConfig({ REDIS_URL: url }).state.redisUrl).toBe(url);
  });

  it.each(['http://redis.internal:6379', 'redis://', 'not a url'])(
    'refuses REDIS_URL=%s without echoing it',
    (url) => {
      const problems = problemsOf({ REDIS_URL: url });
      expect(problems).toEqual(['REDIS_URL: expected a redis:// or rediss:// URL with a host']);
    },
  );

  it('never echoes a password from a refused REDIS_URL', () => {
    const problems = problemsOf({ REDIS_URL: 'http://user:hunter2-secret@redis:6379' });
    expect(problems.join('\n')).not.toContain('hunter2');
  });

  it('reads REDIS_URL_FILE like any secret', () => {
    const config = loadConfig({ REDIS_URL_FILE: '/run/secrets/redis' }, (path) =>
      path === '/run/secrets/redis' ? 'rediss://app:secret@redis:6380\n' : '',
    );
    expect(config.state.redisUrl).toBe('rediss://app:secret@redis:6380');
  });

  it('takes a prefix and a timeout within bounds, refusing others by name', () => {
    const config = loadConfig({ REDIS_KEY_PREFIX: 'shop-prod:', REDIS_COMMAND_TIMEOUT_MS: '100' });
    expect(config.state.keyPrefix).toBe('shop-prod:');
    expect(config.state.commandTimeoutMs).toBe(100);
    expect(problemsOf({ REDIS_KEY_PREFIX: 'has space' })).toEqual([
      'REDIS_KEY_PREFIX: expected 1..64 characters of A-Z a-z 0-9 _ . : { } -, got "has space"',
    ]);
    expect(problemsOf({ REDIS_KEY_PREFIX: 'p'.repeat(65) })[0]).toMatch(/^REDIS_KEY_PREFIX: expected/);
    expect(problemsOf({ REDIS_COMMAND_TIMEOUT_MS: '5' })).toEqual([
      'REDIS_COMMAND_TIMEOUT_MS: expected milliseconds 10..10000, got "5"',
    ]);
    expect(problemsOf({ REDIS_COMMAND_TIMEOUT_MS: 'fast' })[0]).toMatch(/^REDIS_COMMAND_TIMEOUT_MS/);
  });

  it('keeps the tuning coherent: heartbeats outlive their interval, rejoin hold outlasts the back-off', () => {
    expect(STATE_TUNING.replicaTtlMs).toBeGreaterThan(2 * STATE_TUNING.heartbeatIntervalMs);
    expect(STATE_TUNING.rejoinHoldMs).toBeGreaterThan(
      STATE_TUNING.reconnectMaxDelayMs + STATE_TUNING.probeIntervalMs,
    );
    expect(STATE_TUNING.idempotencyPendingTtlMs).toBeGreaterThan(STATE_TUNING.idempotencyWaitMs);
    expect(STATE_TUNING.dedupeProcessingTtlMs).toBeGreaterThan(STATE_TUNING.dedupeWaitMs);
  });
});

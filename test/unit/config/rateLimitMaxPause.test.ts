// RATE_LIMIT_MAX_PAUSE_MS: the longest pause a provider header can impose.
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config.js';

describe('RATE_LIMIT_MAX_PAUSE_MS', () => {
  it('defaults to 60000 ms and accepts 0 (headers never pause) up to an hour', () => {
    expect(loadConfig({}).policies.rateLimitMaxPauseMs).toBe(60_000);
    expect(loadConfig({ RATE_LIMIT_MAX_PAUSE_MS: '0' }).policies.rateLimitMaxPauseMs).toBe(0);
    expect(loadConfig({ RATE_LIMIT_MAX_PAUSE_MS: '3600000' }).policies.rateLimitMaxPauseMs).toBe(3_600_000);
  });

  it('refuses a value that is not whole milliseconds in range, naming the variable', () => {
    for (const bad of ['-1', '1.5', '3600001', 'a minute']) {
      const error = (() => {
        try {
          loadConfig({ RATE_LIMIT_MAX_PAUSE_MS: bad });
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).problems).toEqual([
        `RATE_LIMIT_MAX_PAUSE_MS: expected milliseconds 0..3600000, got ${JSON.stringify(bad)}`,
      ]);
    }
  });
});

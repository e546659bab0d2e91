// The edge's variables: defaults with their units, and bad values named.
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config.js';

describe('edge configuration', () => {
  it('defaults: 600 requests a minute per client, 100 cost per request, 20 operations per socket, 10 sockets per viewer', () => {
    const config = loadConfig({});
    expect(config.clientRateLimit).toEqual({ perMinute: 600, costPerRequest: 100 });
    expect(config.graphql.ws).toEqual({ maxSubscriptions: 20, maxConnectionsPerViewer: 10 });
  });

  it('reads them, 0 turning the client budget off', () => {
    const config = loadConfig({
      CLIENT_RATE_LIMIT_PER_MINUTE: '0',
      CLIENT_RATE_LIMIT_COST_PER_REQUEST: '250',
      GRAPHQL_WS_MAX_SUBSCRIPTIONS: '5',
      GRAPHQL_WS_MAX_CONNECTIONS_PER_VIEWER: '2',
    });
    expect(config.clientRateLimit).toEqual({ perMinute: 0, costPerRequest: 250 });
    expect(config.graphql.ws).toEqual({ maxSubscriptions: 5, maxConnectionsPerViewer: 2 });
  });

  it('names each bad value in one error', () => {
    let problems: string[] = [];
    try {
      loadConfig({
        CLIENT_RATE_LIMIT_PER_MINUTE: '-1',
        CLIENT_RATE_LIMIT_COST_PER_REQUEST: '0',
        GRAPHQL_WS_MAX_SUBSCRIPTIONS: 'many',
        GRAPHQL_WS_MAX_CONNECTIONS_PER_VIEWER: '0',
      });
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      problems = (error as ConfigError).problems;
    }
    expect(problems).toEqual([
      expect.stringMatching(/^GRAPHQL_WS_MAX_SUBSCRIPTIONS: expected an integer 1\.\.10000, got "many"$/),
      expect.stringMatching(/^GRAPHQL_WS_MAX_CONNECTIONS_PER_VIEWER: /),
      expect.stringMatching(/^CLIENT_RATE_LIMIT_PER_MINUTE: .*0 turns the limit off.*"-1"$/),
      expect.stringMatching(/^CLIENT_RATE_LIMIT_COST_PER_REQUEST: /),
    ]);
  });
});

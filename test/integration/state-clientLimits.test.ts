// Inbound client limits: rate-limiter-flexible's Redis store over the shared connection counts one
// budget for every replica; with Redis cut, each replica's insurance limiter answers at once.
import { RateLimiterRes } from 'rate-limiter-flexible';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ClientRateLimiter } from '../../src/graphql/edgeRateLimit.js';
import { createClientLimitStore } from '../../src/state/clientLimitStore.js';
import type { RedisConnection } from '../../src/state/redis.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcpProxy.js';
import {
  connectUp,
  deletePrefix,
  eventually,
  REDIS_TARGET,
  testPrefix,
} from '../unit/state/support/redis.js';

const prefix = testPrefix();
const open: RedisConnection[] = [];
let proxy: TcpProxy;
let seq = 0;

beforeAll(async () => {
  proxy = await startTcpProxy(REDIS_TARGET);
});
afterEach(async () => {
  proxy.restore();
  await Promise.all(open.splice(0).map((c) => c.close()));
});
afterAll(async () => {
  await proxy.close();
  await deletePrefix(prefix);
});

async function limiter(url?: string, perMinute = 5) {
  const connection = await connectUp(prefix, url ? { url } : {});
  open.push(connection);
  const store = createClientLimitStore({ connection, points: perMinute, durationSeconds: 60 });
  return { limiter: new ClientRateLimiter({ perMinute, costPerRequest: 100, store }), connection, store };
}

const client = () => `viewer:user_${++seq}`;

describe('client limits', () => {
  it('in-process without a connection: a memory store', async () => {
    const store = createClientLimitStore({ points: 2, durationSeconds: 60 });
    const key = client();
    await store.consume(key, 2);
    await expect(store.consume(key, 1)).rejects.toBeInstanceOf(RateLimiterRes);
  });

  it('two replicas count one budget per client', async () => {
    const { limiter: a } = await limiter();
    const { limiter: b } = await limiter();
    const key = client();
    const answers = [];
    for (let i = 0; i < 6; i += 1) answers.push(await (i % 2 === 0 ? a : b).take(key, 1));
    expect(answers.slice(0, 5)).toEqual([undefined, undefined, undefined, undefined, undefined]);
    expect(answers[5]?.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(answers[5]?.retryAfterSeconds).toBeLessThanOrEqual(60);
    // Another client has its own budget.
    expect(await a.take(client(), 1)).toBeUndefined();
  });

  it('with Redis cut, the insurance limiter answers at once with the same budget on this replica', async () => {
    const { limiter: a, connection } = await limiter(proxy.url, 3);
    const key = client();
    expect(await a.take(key, 1)).toBeUndefined();
    proxy.cut();
    expect(await eventually(() => connection.state === 'degraded', 1_000)).toBe(true);
    const started = performance.now();
    const answers = [];
    for (let i = 0; i < 4; i += 1) answers.push(await a.take(key, 1));
    expect(performance.now() - started).toBeLessThan(connection.commandTimeoutMs);
    expect(answers.slice(0, 3)).toEqual([undefined, undefined, undefined]);
    expect(answers[3]).toMatchObject({ retryAfterSeconds: expect.any(Number) });
  });

  it('a connected but stalled Redis costs one command timeout, then the insurance answers at once', async () => {
    const { limiter: a, connection } = await limiter(proxy.url, 3);
    const key = client();
    proxy.stall();
    const first = performance.now();
    expect(await a.take(key, 1)).toBeUndefined();
    expect(performance.now() - first).toBeLessThan(connection.commandTimeoutMs + 400);
    // rate-limiter-flexible's timed-out call degraded the connection.
    expect(connection.state).toBe('degraded');
    const second = performance.now();
    expect(await a.take(key, 1)).toBeUndefined();
    expect(performance.now() - second).toBeLessThan(150);
  });
});

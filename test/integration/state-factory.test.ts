// Choosing the stores by configuration: without REDIS_URL every store is in-process and no Redis
// client exists; with it every store is shared, replicas count each other through heartbeats, and a
// Redis that is down at start delays startup by a bounded wait only.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { STATE_TUNING, type StateConfig } from '../../src/state/config.js';
import { createSharedState, type SharedState } from '../../src/state/index.js';
import { ReplicaRegistry } from '../../src/state/replicas.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcpProxy.js';
import {
  captureLog,
  connectUp,
  deletePrefix,
  eventually,
  REDIS_TARGET,
  REDIS_URL,
  rawClient,
  testPrefix,
} from '../unit/state/support/redis.js';

const prefix = testPrefix();
const states: SharedState[] = [];
let proxy: TcpProxy;

beforeAll(async () => {
  proxy = await startTcpProxy(REDIS_TARGET);
});
afterEach(async () => {
  proxy.restore();
  await Promise.all(states.splice(0).map((s) => s.close()));
});
afterAll(async () => {
  await proxy.close();
  await deletePrefix(prefix);
});

function config(redisUrl: string | undefined): StateConfig {
  return {
    redisUrl,
    keyPrefix: prefix,
    commandTimeoutMs: 250,
    tuning: { ...STATE_TUNING, heartbeatIntervalMs: 100, replicaTtlMs: 500 },
  };
}

function shared(redisUrl: string | undefined, replicaId?: string): SharedState {
  const state = createSharedState(config(redisUrl), { replicaId });
  states.push(state);
  return state;
}

describe('createSharedState', () => {
  it('without REDIS_URL: every store in-process, no connection, health off', async () => {
    const state = shared(undefined);
    expect(state.connection).toBeUndefined();
    for (const store of [
      state.rateBudget,
      state.sharedCache,
      state.dedupe,
      state.pushes,
      state.idempotency,
    ]) {
      expect(store.distributed).toBe(false);
    }
    expect(state.apqCache.constructor.name).toBe('LocalApqCache');
    expect(state.clientLimitStore({ points: 1, durationSeconds: 60 }).constructor.name).toBe(
      'RateLimiterMemory',
    );
    await state.start();
    expect(state.health()).toEqual({ redis: 'off', replicas: 1 });
  });

  it('with REDIS_URL: every store shared, up after start, replicas counted', async () => {
    const a = shared(REDIS_URL, 'replica-a');
    const b = shared(REDIS_URL, 'replica-b');
    for (const store of [a.rateBudget, a.sharedCache, a.dedupe, a.pushes, a.idempotency]) {
      expect(store.distributed).toBe(true);
    }
    expect(a.clientLimitStore({ points: 1, durationSeconds: 60 }).constructor.name).toBe('RateLimiterRedis');
    await Promise.all([a.start(), b.start()]);
    expect(await eventually(() => a.health().replicas === 2 && b.health().replicas === 2, 2_000)).toBe(true);
    expect(a.health()).toEqual({ redis: 'up', replicas: 2 });
    const raw = rawClient();
    expect(await raw.pttl(`${prefix}replicas:replica-a`)).toBeGreaterThan(0);
    raw.disconnect();
    // A replica that leaves is no longer counted.
    await b.close();
    states.splice(states.indexOf(b), 1);
    expect(await eventually(() => a.health().replicas === 1, 2_000)).toBe(true);
  });

  it('with Redis down at start: start returns after the bounded wait, degraded, one log line', async () => {
    proxy.cut();
    const log = captureLog();
    const state = createSharedState(config(proxy.url), { logger: log });
    states.push(state);
    const started = performance.now();
    await state.start({ waitForRedisMs: 300 });
    expect(performance.now() - started).toBeLessThan(300 + 250 + 400);
    expect(state.health()).toEqual({ redis: 'degraded', replicas: 1 });
    expect(log.lines).toHaveLength(1);
    // Stores answer from their twins.
    expect(await state.dedupe.once('stripe:evt_down', async () => {})).toEqual({ duplicate: false });
    proxy.restore();
    expect(await eventually(() => state.health().redis === 'up', 3_000)).toBe(true);
  });
});

describe('ReplicaRegistry', () => {
  it('a replica that stops heartbeating drops out after the heartbeat TTL', async () => {
    const a = await connectUp(prefix);
    const b = await connectUp(prefix);
    const ra = new ReplicaRegistry({ connection: a, id: 'ttl-a', heartbeatIntervalMs: 100, ttlMs: 300 });
    const rb = new ReplicaRegistry({ connection: b, id: 'ttl-b', heartbeatIntervalMs: 100, ttlMs: 300 });
    const counts: number[] = [];
    const watched = new ReplicaRegistry({
      connection: a,
      id: 'ttl-c',
      heartbeatIntervalMs: 100,
      ttlMs: 300,
      onCount: (count) => counts.push(count),
    });
    await Promise.all([ra.start(), rb.start(), watched.start()]);
    expect(await eventually(() => watched.count >= 2, 1_000)).toBe(true);
    // B's process dies: no more beats, no goodbye.
    await b.close();
    expect(await eventually(() => watched.count === 2, 2_000)).toBe(true);
    expect(counts.at(-1)).toBe(2);
    await Promise.all([ra.stop(), rb.stop(), watched.stop()]);
    await a.close();
  });

  it('refuses a TTL no longer than the interval', async () => {
    const connection = await connectUp(prefix);
    expect(() => new ReplicaRegistry({ connection, heartbeatIntervalMs: 1_000, ttlMs: 1_000 })).toThrow(
      'replica ttlMs must exceed heartbeatIntervalMs, got 1000 <= 1000',
    );
    await connection.close();
  });
});

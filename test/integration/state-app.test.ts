// The shared state as the app carries it: built from REDIS_URL, started before the first request,
// shown on /readyz and /metrics, and closed with the app (its replica leaves the registry).
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type Harness, startHarness, startPeer } from '../helpers/harness.js';
import { deletePrefix, REDIS_URL, rawClient, testPrefix } from '../unit/state/support/redis.js';

const prefix = testPrefix();
let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});
afterAll(async () => {
  await deletePrefix(prefix);
});

const metric = (text: string, name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);

describe('shared state in the app', () => {
  it('is in-process without REDIS_URL: readyz says off, the gauge -1', async () => {
    h = await startHarness();
    expect(h.app.state.connection).toBeUndefined();
    const ready = (await (await fetch(`${h.url}/readyz`)).json()) as { sharedState: unknown };
    expect(ready.sharedState).toEqual({ redis: 'off', replicas: 1 });
    const text = await h.app.metrics.text();
    expect(metric(text, 'junction_redis_up')).toBe(-1);
    expect(metric(text, 'junction_replicas')).toBe(1);
  });

  it('with REDIS_URL: up before the first request, registered as a replica, gone from the registry on close', async () => {
    h = await startHarness({ env: { REDIS_URL, REDIS_KEY_PREFIX: prefix } });
    const ready = (await (await fetch(`${h.url}/readyz`)).json()) as { sharedState: unknown };
    expect(ready.sharedState).toEqual({ redis: 'up', replicas: 1 });
    const text = await h.app.metrics.text();
    expect(metric(text, 'junction_redis_up')).toBe(1);
    const redis = rawClient();
    try {
      const keys = await redis.keys(`${prefix}*`);
      expect(keys.length).toBeGreaterThan(0); // the replica registry at least
      await h.close();
      h = undefined;
      const after = await redis.keys(`${prefix}*replicas*`);
      const members = await Promise.all(
        after.map(async (k) => ((await redis.type(k)) === 'zset' ? redis.zcard(k) : 0)),
      );
      expect(members.reduce((a, b) => a + b, 0)).toBe(0);
    } finally {
      redis.disconnect();
    }
  });

  it('counts the replicas sharing one Redis prefix: a peer joins, then leaves on close', async () => {
    h = await startHarness({ env: { REDIS_URL, REDIS_KEY_PREFIX: `${prefix}peers:` } });
    const peer = await startPeer(h);
    try {
      expect(peer.app.state.health()).toEqual({ redis: 'up', replicas: 2 });
      expect((await peer.gql('{ user(id: "usr_0001") { id } }')).body.data.user.id).toBe('usr_0001');
    } finally {
      await peer.close();
    }
  });
});

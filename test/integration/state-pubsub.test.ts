// Subscription pushes: the in-process and the Redis bus pass one behavioural suite; a push published
// on one replica reaches a subscriber on another exactly once, and the publisher's own subscriber
// exactly once too; with Redis cut, pushes stay on the replica that published them.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LocalPushBus, type PushBus, RedisPushBus } from '../../src/state/pubsub.js';
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
const buses: RedisPushBus[] = [];
let proxy: TcpProxy;
let seq = 0;

beforeAll(async () => {
  proxy = await startTcpProxy(REDIS_TARGET);
});
afterEach(async () => {
  proxy.restore();
  for (const bus of buses.splice(0)) bus.close();
  await Promise.all(open.splice(0).map((c) => c.close()));
});
afterAll(async () => {
  await proxy.close();
  await deletePrefix(prefix);
});

async function redisBus<T>(options: { url?: string; bufferSize?: number } = {}) {
  const connection = await connectUp(prefix, options.url ? { url: options.url } : {});
  open.push(connection);
  const bus = new RedisPushBus<T>({ connection, maxValueBytes: 64 * 1024, bufferSize: options.bufferSize });
  buses.push(bus as RedisPushBus);
  // Pushes are only reliable once Redis confirmed the subscription.
  if (!(await eventually(() => connection.isSubscribed('push'), 2_000))) throw new Error('not subscribed');
  return { bus, connection };
}

const topic = () => `payment:user_${++seq}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Reads what `iterator` receives into an array until stopped. */
function collect<T>(iterator: AsyncIterableIterator<T>): { values: T[]; stop: () => Promise<void> } {
  const values: T[] = [];
  let stopped = false;
  void (async () => {
    for await (const value of iterator) {
      if (stopped) break;
      values.push(value);
    }
  })();
  return {
    values,
    stop: async () => {
      stopped = true;
      await iterator.return?.();
    },
  };
}

const implementations: [string, (bufferSize?: number) => Promise<PushBus<unknown>>][] = [
  ['local', async (bufferSize) => new LocalPushBus({ bufferSize })],
  ['redis', async (bufferSize) => (await redisBus({ bufferSize })).bus],
];

describe.each(implementations)('%s push bus', (_name, create) => {
  it('delivers a push to every subscriber of its topic and to nobody else, Dates intact', async () => {
    const bus = await create();
    const t = topic();
    const one = collect(bus.subscribe(t));
    const two = collect(bus.subscribe(t));
    const other = collect(bus.subscribe(topic()));
    const createdAt = new Date('2026-03-04T05:06:07.000Z');
    await bus.publish(t, { id: 'pi_1', createdAt });
    expect(await eventually(() => one.values.length === 1 && two.values.length === 1, 1_000)).toBe(true);
    await sleep(50);
    expect(one.values).toEqual([{ id: 'pi_1', createdAt }]);
    expect((one.values[0] as { createdAt: Date }).createdAt).toBeInstanceOf(Date);
    expect(two.values).toHaveLength(1);
    expect(other.values).toEqual([]);
    await Promise.all([one.stop(), two.stop(), other.stop()]);
  });

  it('a slow subscriber keeps only the newest bufferSize pushes', async () => {
    const bus = await create(3);
    const t = topic();
    const iterator = bus.subscribe(t);
    for (let i = 1; i <= 5; i += 1) await bus.publish(t, i);
    await sleep(100); // let Redis deliver them all before reading
    const read = [];
    for (let i = 0; i < 3; i += 1) read.push((await iterator.next()).value);
    expect(read).toEqual([3, 4, 5]);
    await iterator.return?.();
  });

  it('counts subscribers and forgets one that unsubscribes', async () => {
    const bus = await create();
    const t = topic();
    const iterator = bus.subscribe(t);
    expect(bus.subscriberCount(t)).toBe(1);
    expect(bus.mayHaveSubscribers(t)).toBe(true);
    await iterator.return?.();
    expect(bus.subscriberCount(t)).toBe(0);
    expect(await iterator.next()).toEqual({ value: undefined, done: true });
  });
});

describe('two replicas on one Redis', () => {
  it('a push published on A reaches B and A each exactly once', async () => {
    const { bus: a } = await redisBus<string>();
    const { bus: b } = await redisBus<string>();
    const t = topic();
    const onA = collect(a.subscribe(t));
    const onB = collect(b.subscribe(t));
    expect(a.mayHaveSubscribers(topic())).toBe(true); // a subscriber may sit on another replica
    await a.publish(t, 'hello');
    expect(await eventually(() => onA.values.length === 1 && onB.values.length === 1, 1_000)).toBe(true);
    await sleep(100);
    expect(onA.values).toEqual(['hello']);
    expect(onB.values).toEqual(['hello']);
    await Promise.all([onA.stop(), onB.stop()]);
  });

  it('refuses a push larger than the bound, naming it', async () => {
    const { bus } = await redisBus<string>();
    await expect(bus.publish(topic(), 'x'.repeat(70 * 1024))).rejects.toThrow(/at most 65536 bytes/);
  });
});

describe('Redis cut', () => {
  it('a push stays on the publishing replica (once), at once; pushes cross again after Redis returns', async () => {
    const { bus: a, connection } = await redisBus<string>({ url: proxy.url });
    const { bus: b } = await redisBus<string>();
    const t = topic();
    const onA = collect(a.subscribe(t));
    const onB = collect(b.subscribe(t));
    proxy.cut();
    expect(await eventually(() => connection.state === 'degraded', 1_000)).toBe(true);
    expect(a.mayHaveSubscribers(topic())).toBe(false);
    const started = performance.now();
    await a.publish(t, 'during');
    expect(performance.now() - started).toBeLessThan(150);
    await sleep(100);
    expect(onA.values).toEqual(['during']);
    expect(onB.values).toEqual([]);

    proxy.restore();
    expect(await eventually(() => connection.state === 'up' && connection.isSubscribed('push'), 3_000)).toBe(
      true,
    );
    await a.publish(t, 'after');
    expect(await eventually(() => onB.values.length === 1, 1_000)).toBe(true);
    await sleep(100);
    expect(onA.values).toEqual(['during', 'after']);
    expect(onB.values).toEqual(['after']);
    await Promise.all([onA.stop(), onB.stop()]);
  });
});

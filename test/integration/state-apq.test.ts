// APQ: the in-process and the Redis cache pass one behavioural suite (Apollo's KeyValueCache
// contract, bounded size and TTL); a hash registered on one replica is known on another; with Redis
// cut, this replica's copy answers.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type ApqCacheOptions,
  boundedTtlSeconds,
  LocalApqCache,
  RedisApqCache,
} from '../../src/state/apqCache.js';
import type { RedisConnection } from '../../src/state/redis.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcpProxy.js';
import {
  connectUp,
  deletePrefix,
  eventually,
  REDIS_TARGET,
  rawClient,
  testPrefix,
} from '../unit/state/support/redis.js';

const prefix = testPrefix();
const open: RedisConnection[] = [];
let proxy: TcpProxy;
let seq = 0;
const options: ApqCacheOptions = { maxValueBytes: 1024, maxTtlSeconds: 3_600, maxBytes: 1024 * 1024 };

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

async function redisApq(url?: string) {
  const connection = await connectUp(prefix, url ? { url } : {});
  open.push(connection);
  return { cache: new RedisApqCache({ ...options, connection }), connection };
}

const hash = () => `apq:${(++seq).toString(16).padStart(64, '0')}`;
const doc = '{ me { id name } }';

describe.each([
  ['local', async () => new LocalApqCache(options)],
  ['redis', async () => (await redisApq()).cache],
] as const)('%s APQ cache', (_name, create) => {
  it('keeps a document by hash and deletes it', async () => {
    const cache = await create();
    const key = hash();
    expect(await cache.get(key)).toBeUndefined();
    await cache.set(key, doc, { ttl: 300 });
    expect(await cache.get(key)).toBe(doc);
    expect(await cache.delete(key)).toBe(true);
    expect(await cache.get(key)).toBeUndefined();
  });

  it('does not keep a document over the size bound', async () => {
    const cache = await create();
    const key = hash();
    await cache.set(key, `{ me { ${'id '.repeat(500)}} }`);
    expect(await cache.get(key)).toBeUndefined();
  });

  it('forgets a document after its TTL', async () => {
    const cache = await create();
    const key = hash();
    await cache.set(key, doc, { ttl: 1 });
    expect(await cache.get(key)).toBe(doc);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect(await cache.get(key)).toBeUndefined();
  });
});

describe('Redis APQ', () => {
  it('gives every key a TTL: none, or a longer one than allowed, becomes the maximum', async () => {
    expect(boundedTtlSeconds(null, 3_600)).toBe(3_600);
    expect(boundedTtlSeconds(undefined, 3_600)).toBe(3_600);
    expect(boundedTtlSeconds(86_400, 3_600)).toBe(3_600);
    expect(boundedTtlSeconds(300, 3_600)).toBe(300);
    const { cache } = await redisApq();
    const key = hash();
    await cache.set(key, doc, { ttl: null });
    const raw = rawClient();
    const pttl = await raw.pttl(`${prefix}apq:${key}`);
    raw.disconnect();
    expect(pttl).toBeGreaterThan(3_590_000);
    expect(pttl).toBeLessThanOrEqual(3_600_000);
  });

  it('a hash registered on A is known on B', async () => {
    const { cache: a } = await redisApq();
    const { cache: b } = await redisApq();
    const key = hash();
    await a.set(key, doc, { ttl: 300 });
    expect(await b.get(key)).toBe(doc);
  });

  it('with Redis cut, this replica still knows its documents and keeps new ones, at once', async () => {
    const { cache, connection } = await redisApq(proxy.url);
    const before = hash();
    await cache.set(before, doc, { ttl: 300 });
    proxy.cut();
    expect(await eventually(() => connection.state === 'degraded', 1_000)).toBe(true);
    const started = performance.now();
    expect(await cache.get(before)).toBe(doc);
    const during = hash();
    await cache.set(during, doc, { ttl: 300 });
    expect(await cache.get(during)).toBe(doc);
    expect(performance.now() - started).toBeLessThan(connection.commandTimeoutMs);
  });
});

// Idempotent mutations: the in-process and the Redis store pass one behavioural suite; concurrent
// requests with one key on two replicas give exactly one "new" and the others the same result; with
// Redis cut, each replica keeps its own keys.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type IdempotencyOptions,
  type IdempotencyStore,
  LocalIdempotencyStore,
  RedisIdempotencyStore,
} from '../../src/state/idempotency.js';
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

const base: IdempotencyOptions = {
  ttlMs: 24 * 60 * 60 * 1000,
  pendingTtlMs: 60_000,
  waitMs: 1_000,
  pollIntervalMs: 10,
  maxResultBytes: 16 * 1024,
};

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

async function redisStore(overrides: Partial<IdempotencyOptions> & { url?: string } = {}) {
  const { url, ...options } = overrides;
  const connection = await connectUp(prefix, url ? { url } : {});
  open.push(connection);
  return { store: new RedisIdempotencyStore({ ...base, ...options, connection }), connection };
}

const scope = () => `user_${++seq}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const result = { message: { sid: 'SM1', createdAt: new Date('2026-05-06T07:08:09.000Z') } };

const implementations: [string, (o?: Partial<IdempotencyOptions>) => Promise<IdempotencyStore>][] = [
  ['local', async (o) => new LocalIdempotencyStore({ ...base, ...o })],
  ['redis', async (o) => (await redisStore(o)).store],
];

describe.each(implementations)('%s idempotency store', (_name, create) => {
  it('new, then in progress, then done with the same result (Dates intact)', async () => {
    const store = await create();
    const s = scope();
    expect(await store.begin(s, 'key-1', 'fp-a')).toEqual({ kind: 'new' });
    expect(await store.begin(s, 'key-1', 'fp-a')).toEqual({ kind: 'in_progress' });
    expect(await store.complete(s, 'key-1', result)).toBe(true);
    const again = await store.begin(s, 'key-1', 'fp-a');
    expect(again).toEqual({ kind: 'done', result });
    if (again.kind === 'done') expect((again.result as typeof result).message.createdAt).toBeInstanceOf(Date);
  });

  it('refuses a key reused with different input, in progress or done', async () => {
    const store = await create();
    const s = scope();
    await store.begin(s, 'key-1', 'fp-a');
    expect(await store.begin(s, 'key-1', 'fp-b')).toEqual({ kind: 'mismatch' });
    await store.complete(s, 'key-1', result);
    expect(await store.begin(s, 'key-1', 'fp-b')).toEqual({ kind: 'mismatch' });
  });

  it('scopes keys: the same key for another viewer is new', async () => {
    const store = await create();
    const key = `shared-${seq}`;
    expect(await store.begin(scope(), key, 'fp')).toEqual({ kind: 'new' });
    expect(await store.begin(scope(), key, 'fp')).toEqual({ kind: 'new' });
  });

  it('abandon frees the key for a retry', async () => {
    const store = await create();
    const s = scope();
    await store.begin(s, 'key-1', 'fp-a');
    await store.abandon(s, 'key-1');
    expect(await store.begin(s, 'key-1', 'fp-a')).toEqual({ kind: 'new' });
  });

  it('a claim whose request never finishes frees itself after the pending TTL; results expire after the TTL', async () => {
    const store = await create({ pendingTtlMs: 80, ttlMs: 120 });
    const s = scope();
    await store.begin(s, 'stuck', 'fp');
    await sleep(120);
    expect(await store.begin(s, 'stuck', 'fp')).toEqual({ kind: 'new' });
    await store.complete(s, 'stuck', result);
    expect((await store.begin(s, 'stuck', 'fp')).kind).toBe('done');
    await sleep(160);
    expect(await store.begin(s, 'stuck', 'fp')).toEqual({ kind: 'new' });
  });

  it('beginOrWait waits for the first request: its result, or the key after it gave up, or in progress at the bound', async () => {
    const store = await create({ waitMs: 2_000 });
    const s = scope();
    await store.begin(s, 'k1', 'fp');
    setTimeout(() => void store.complete(s, 'k1', result), 50);
    expect(await store.beginOrWait(s, 'k1', 'fp')).toEqual({ kind: 'done', result });
    await store.begin(s, 'k2', 'fp');
    setTimeout(() => void store.abandon(s, 'k2'), 50);
    expect(await store.beginOrWait(s, 'k2', 'fp')).toEqual({ kind: 'new' });
    const short = await create({ waitMs: 100 });
    await short.begin(s, 'k3', 'fp');
    const started = performance.now();
    expect(await short.beginOrWait(s, 'k3', 'fp')).toEqual({ kind: 'in_progress' });
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('does not keep a result over the bound, and frees its key', async () => {
    const store = await create();
    const s = scope();
    await store.begin(s, 'big', 'fp');
    expect(await store.complete(s, 'big', { body: 'x'.repeat(20 * 1024) })).toBe(false);
    expect(await store.begin(s, 'big', 'fp')).toEqual({ kind: 'new' });
  });

  it('of 20 concurrent begins with one key, exactly one is new', async () => {
    const store = await create();
    const s = scope();
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => store.begin(s, 'race', 'fp')));
    expect(outcomes.filter((o) => o.kind === 'new')).toHaveLength(1);
    expect(outcomes.filter((o) => o.kind === 'in_progress')).toHaveLength(19);
  });

  it('refuses an empty or oversized key, naming it', async () => {
    const store = await create();
    await expect(store.begin(scope(), '', 'fp')).rejects.toThrow(
      'idempotency key: expected 1..1024 characters, got 0',
    );
    await expect(store.begin(scope(), 'k'.repeat(2000), 'fp')).rejects.toThrow(/got 2000/);
  });
});

describe('two replicas on one Redis', () => {
  it('the same key sent to A and B at once: one new, and both end with the same result', async () => {
    const { store: a } = await redisStore();
    const { store: b } = await redisStore();
    const s = scope();
    let sends = 0;
    const mutate = async (store: RedisIdempotencyStore) => {
      const outcome = await store.beginOrWait(s, 'sms-1', 'fp');
      if (outcome.kind === 'new') {
        sends += 1;
        await sleep(50); // the provider call
        const sent = { message: { sid: `SM${sends}` } };
        await store.complete(s, 'sms-1', sent);
        return sent;
      }
      if (outcome.kind === 'done') return outcome.result;
      throw new Error(`unexpected ${outcome.kind}`);
    };
    const answers = await Promise.all([mutate(a), mutate(b), mutate(a), mutate(b)]);
    expect(sends).toBe(1);
    expect(answers).toEqual(Array(4).fill({ message: { sid: 'SM1' } }));
  });
});

describe('Redis cut', () => {
  it('each replica keeps its keys at once; a result kept before the cut is still answered here', async () => {
    const { store, connection } = await redisStore({ url: proxy.url });
    const s = scope();
    await store.begin(s, 'before', 'fp');
    await store.complete(s, 'before', result);
    proxy.cut();
    expect(await eventually(() => connection.state === 'degraded', 1_000)).toBe(true);
    const started = performance.now();
    expect(await store.begin(s, 'before', 'fp')).toEqual({ kind: 'done', result });
    expect(await store.begin(s, 'during', 'fp')).toEqual({ kind: 'new' });
    expect(await store.begin(s, 'during', 'fp')).toEqual({ kind: 'in_progress' });
    expect(await store.complete(s, 'during', result)).toBe(true);
    expect(await store.begin(s, 'during', 'fp')).toEqual({ kind: 'done', result });
    expect(performance.now() - started).toBeLessThan(connection.commandTimeoutMs);
  });
});

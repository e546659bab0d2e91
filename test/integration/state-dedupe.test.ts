// Webhook dedupe: the in-process and the Redis implementation pass one behavioural suite; across two
// replicas one claim wins and a retry elsewhere is a duplicate; with Redis cut each replica decides alone.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type EventDedupe,
  type EventNotSettledError,
  isEventNotSettledError,
  LocalEventDedupe,
  RedisEventDedupe,
} from '../../src/state/dedupe.js';
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

async function redisDedupe(
  overrides: { url?: string; windowMs?: number; waitMs?: number; processingTtlMs?: number } = {},
) {
  const connection = await connectUp(prefix, overrides.url ? { url: overrides.url } : {});
  open.push(connection);
  const dedupe = new RedisEventDedupe({
    connection,
    processingTtlMs: overrides.processingTtlMs ?? 30_000,
    windowMs: overrides.windowMs ?? 60 * 60 * 1000,
    waitMs: overrides.waitMs ?? 2_000,
    pollIntervalMs: 10,
  });
  return { dedupe, connection };
}

const eventId = () => `stripe:evt_${++seq}_${Date.now()}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** An effect that records when it ran and can be held open. */
function recorder() {
  const runs: string[] = [];
  return {
    runs,
    effect:
      (label: string, ms = 0, fail = false) =>
      async () => {
        runs.push(`start ${label}`);
        if (ms > 0) await sleep(ms);
        if (fail) throw new Error(`effect ${label} failed`);
        runs.push(`end ${label}`);
      },
  };
}

const implementations: [string, (windowMs?: number) => Promise<EventDedupe>][] = [
  ['local', async (windowMs) => new LocalEventDedupe({ windowMs })],
  ['redis', async (windowMs) => (await redisDedupe({ windowMs })).dedupe],
];

describe.each(implementations)('%s dedupe', (_name, create) => {
  it('runs the first delivery and answers duplicate to the next, without running it', async () => {
    const dedupe = await create();
    const { runs, effect } = recorder();
    const id = eventId();
    expect(await dedupe.once(id, effect('1'))).toEqual({ duplicate: false });
    expect(await dedupe.once(id, effect('2'))).toEqual({ duplicate: true });
    expect(runs).toEqual(['start 1', 'end 1']);
  });

  it('a concurrent delivery waits for the first run and is a duplicate', async () => {
    const dedupe = await create();
    const { runs, effect } = recorder();
    const id = eventId();
    const first = dedupe.once(id, effect('1', 80));
    await sleep(10);
    const second = dedupe.once(id, async () => {
      runs.push('second ran');
    });
    const answers = await Promise.all([first, second]);
    runs.push('both answered');
    expect(answers).toEqual([{ duplicate: false }, { duplicate: true }]);
    expect(runs).toEqual(['start 1', 'end 1', 'both answered']);
  });

  it('a failed run forgets the id: the concurrent delivery fails too, and the retry runs', async () => {
    const dedupe = await create();
    const { runs, effect } = recorder();
    const id = eventId();
    const first = dedupe.once(id, effect('1', 50, true));
    await sleep(10);
    const second = dedupe.once(id, effect('2'));
    const [one, two] = await Promise.allSettled([first, second]);
    expect(one).toMatchObject({ status: 'rejected', reason: { message: 'effect 1 failed' } });
    expect(two).toMatchObject({ status: 'rejected', reason: { message: 'effect 1 failed' } });
    expect(await dedupe.once(id, effect('3'))).toEqual({ duplicate: false });
    expect(runs).toEqual(['start 1', 'start 3', 'end 3']);
  });

  it('forgets an id after the window', async () => {
    const dedupe = await create(100);
    const { runs, effect } = recorder();
    const id = eventId();
    await dedupe.once(id, effect('1'));
    await sleep(150);
    expect(await dedupe.once(id, effect('2'))).toEqual({ duplicate: false });
    expect(runs).toEqual(['start 1', 'end 1', 'start 2', 'end 2']);
  });
});

describe('two replicas on one Redis', () => {
  it('the same event delivered to both at once runs once; the other answers duplicate after it', async () => {
    const { dedupe: a } = await redisDedupe();
    const { dedupe: b } = await redisDedupe();
    const { runs, effect } = recorder();
    const id = eventId();
    const answers = await Promise.all([a.once(id, effect('A', 60)), b.once(id, effect('B', 60))]);
    expect(runs).toHaveLength(2); // one start, one end
    expect(answers.filter((x) => x.duplicate)).toHaveLength(1);
    expect(answers.filter((x) => !x.duplicate)).toHaveLength(1);
    // A retry later, on either replica: duplicate.
    expect(await b.once(id, effect('later'))).toEqual({ duplicate: true });
    expect(await a.once(id, effect('later'))).toEqual({ duplicate: true });
  });

  it("the other replica's failure fails the waiting delivery; the provider's retry then runs", async () => {
    const { dedupe: a } = await redisDedupe();
    const { dedupe: b } = await redisDedupe();
    const { runs, effect } = recorder();
    const id = eventId();
    const first = a.once(id, effect('A', 60, true));
    await sleep(15);
    const second = b.once(id, effect('B')).catch((e: unknown) => e);
    await expect(first).rejects.toThrow('effect A failed');
    const error = await second;
    expect(isEventNotSettledError(error)).toBe(true);
    expect((error as EventNotSettledError).code).toBe('EVENT_FIRST_RUN_FAILED');
    expect(await b.once(id, effect('retry'))).toEqual({ duplicate: false });
    expect(runs).toEqual(['start A', 'start retry', 'end retry']);
  });

  it('a delivery gives up waiting after waitMs with EVENT_IN_PROGRESS', async () => {
    const { dedupe: a } = await redisDedupe();
    const { dedupe: b } = await redisDedupe({ waitMs: 100 });
    const id = eventId();
    const slow = a.once(id, async () => {
      await sleep(400);
    });
    await sleep(15);
    const started = performance.now();
    await expect(b.once(id, async () => {})).rejects.toMatchObject({ code: 'EVENT_IN_PROGRESS' });
    expect(performance.now() - started).toBeLessThan(100 + 400);
    await slow;
  });

  it('a replica that died mid-run holds the id for the processing TTL only', async () => {
    const { dedupe } = await redisDedupe();
    const id = eventId();
    const raw = rawClient();
    await raw.set(`${prefix}dedupe:${id}`, 'processing:dead-replica', 'PX', 100);
    raw.disconnect();
    await sleep(150);
    expect(await dedupe.once(id, async () => {})).toEqual({ duplicate: false });
  });
});

describe('Redis cut', () => {
  it('each replica decides alone, at once, and remembers what it did', async () => {
    const { dedupe, connection } = await redisDedupe({ url: proxy.url });
    const { runs, effect } = recorder();
    const before = eventId();
    await dedupe.once(before, effect('before'));
    proxy.cut();
    expect(await eventually(() => connection.state === 'degraded', 1_000)).toBe(true);
    const started = performance.now();
    // Done before the cut: still known here.
    expect(await dedupe.once(before, effect('again'))).toEqual({ duplicate: true });
    const during = eventId();
    expect(await dedupe.once(during, effect('during'))).toEqual({ duplicate: false });
    expect(await dedupe.once(during, effect('during again'))).toEqual({ duplicate: true });
    expect(performance.now() - started).toBeLessThan(connection.commandTimeoutMs);
    expect(runs).toEqual(['start before', 'end before', 'start during', 'end during']);
  });
});

// Provider rate budgets: the in-process bucket and the Redis one pass the same behavioural suite on a
// virtual clock; two Redis budgets (two replicas) together never exceed the limit in any 1 s window;
// a throttling signal seen by one slows both; with Redis cut each falls back to its share of the limit.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type BucketSpec,
  LocalRateBudget,
  type RateBudget,
  RedisRateBudget,
} from '../../src/state/rateBudget.js';
import type { RedisConnection } from '../../src/state/redis.js';
import { ReplicaRegistry } from '../../src/state/replicas.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcpProxy.js';
import {
  connect,
  connectUp,
  deletePrefix,
  eventually,
  REDIS_TARGET,
  testPrefix,
} from '../unit/state/support/redis.js';

const prefix = testPrefix();
const open: RedisConnection[] = [];
const budgets: RedisRateBudget[] = [];
let proxy: TcpProxy;
let bucketSeq = 0;

beforeAll(async () => {
  proxy = await startTcpProxy(REDIS_TARGET);
});
afterEach(async () => {
  proxy.restore();
  for (const budget of budgets.splice(0)) budget.close();
  await Promise.all(open.splice(0).map((c) => c.close()));
});
afterAll(async () => {
  await proxy.close();
  await deletePrefix(prefix);
});

/** A limit of N per second split as services.ts does: 10 % burst, 90 % refill. */
function specFor(limitPerSecond: number, overrides: Partial<BucketSpec> = {}): BucketSpec {
  const burst = Math.max(1, Math.floor(limitPerSecond / 10));
  return {
    ratePerSecond: Math.max(limitPerSecond - burst, limitPerSecond / 2),
    burst,
    minRatePerSecond: 1,
    recoveryPerSecond: 0.1,
    maxPauseMs: 60_000,
    ...overrides,
  };
}

function newBucket(): string {
  bucketSeq += 1;
  return `stripe|cred-${bucketSeq}`;
}

class VirtualClock {
  constructor(public ms = 1_800_000_000_000) {}
  readonly now = () => this.ms;
  advance(ms: number) {
    this.ms += ms;
  }
}

async function redisBudget(clock?: VirtualClock, url?: string, count = 1): Promise<RedisRateBudget> {
  const connection = await connectUp(prefix, url ? { url } : {});
  open.push(connection);
  const budget = new RedisRateBudget({
    connection,
    replicas: { count },
    rejoinHoldMs: 300,
    now: clock?.now,
  });
  budgets.push(budget);
  return budget;
}

type Factory = (clock: VirtualClock) => Promise<RateBudget>;
const implementations: [string, Factory][] = [
  ['local', async (clock) => new LocalRateBudget({ now: clock.now })],
  ['redis', async (clock) => redisBudget(clock)],
];

describe.each(implementations)('%s rate budget (one bucket, virtual clock)', (_name, create) => {
  it('grants the burst at once, then says when the next token comes', async () => {
    const clock = new VirtualClock();
    const budget = await create(clock);
    const bucket = newBucket();
    const spec = specFor(90); // burst 9, rate 81/s
    for (let i = 0; i < 9; i += 1) expect((await budget.take(bucket, spec)).granted).toBe(true);
    const refused = await budget.take(bucket, spec);
    expect(refused.granted).toBe(false);
    if (refused.granted) return;
    expect(refused.retryAfterMs).toBeCloseTo(1000 / 81, 6);
    clock.advance(Math.ceil(refused.retryAfterMs)); // as a timer would: whole ms
    expect((await budget.take(bucket, spec)).granted).toBe(true);
  });

  it('refills at the rate and never above the burst', async () => {
    const clock = new VirtualClock();
    const budget = await create(clock);
    const bucket = newBucket();
    const spec = specFor(20); // burst 2, rate 18/s
    clock.advance(10_000);
    let granted = 0;
    while ((await budget.take(bucket, spec)).granted) granted += 1;
    expect(granted).toBe(2);
    clock.advance(500);
    granted = 0;
    while ((await budget.take(bucket, spec)).granted) granted += 1;
    expect(granted).toBe(2); // 9 tokens accrued, capped at the burst
  });

  it('a 429 halves the rate and empties the bucket; the rate climbs back 10 %/s after', async () => {
    const clock = new VirtualClock();
    const budget = await create(clock);
    const bucket = newBucket();
    const spec = specFor(100); // rate 90
    await budget.throttle(bucket, spec, { halve: true });
    let snap = await budget.snapshot(bucket, spec);
    expect(snap.ratePerSecond).toBeCloseTo(45, 6);
    expect(snap.tokens).toBeCloseTo(0, 6);
    await budget.throttle(bucket, spec, { halve: true });
    expect((await budget.snapshot(bucket, spec)).ratePerSecond).toBeCloseTo(22.5, 6);
    clock.advance(1_000);
    snap = await budget.snapshot(bucket, spec);
    expect(snap.ratePerSecond).toBeCloseTo(22.5 + 9, 6);
    clock.advance(60_000);
    expect((await budget.snapshot(bucket, spec)).ratePerSecond).toBeCloseTo(90, 6);
  });

  it('a pause refuses every take until it ends, and no signal pauses longer than maxPauseMs', async () => {
    const clock = new VirtualClock();
    const budget = await create(clock);
    const bucket = newBucket();
    const spec = specFor(100, { maxPauseMs: 2_000 });
    await budget.throttle(bucket, spec, { pauseMs: 24 * 60 * 60 * 1000 });
    const refused = await budget.take(bucket, spec);
    expect(refused.granted).toBe(false);
    if (refused.granted) return;
    // Cut to maxPauseMs, plus one token's time (tokens do not accrue while paused).
    expect(refused.retryAfterMs).toBeCloseTo(2_000 + 1000 / 90, 3);
    expect((await budget.snapshot(bucket, spec)).pauseRemainingMs).toBeCloseTo(2_000, 3);
    clock.advance(Math.ceil(2_000 + 1000 / 90));
    expect((await budget.take(bucket, spec)).granted).toBe(true);
  });

  it('spreads a low remaining count over its window, and ignores garbage values', async () => {
    const clock = new VirtualClock();
    const budget = await create(clock);
    const bucket = newBucket();
    const spec = specFor(100);
    await budget.throttle(bucket, spec, { spread: { remaining: 5, windowMs: 10_000 } });
    expect((await budget.snapshot(bucket, spec)).ratePerSecond).toBeCloseTo(0.5, 6);
    const before = await budget.snapshot(bucket, spec);
    await budget.throttle(bucket, spec, {
      pauseMs: Number.NaN,
      spread: { remaining: Number.POSITIVE_INFINITY, windowMs: -5 },
    });
    const after = await budget.snapshot(bucket, spec);
    expect(after.ratePerSecond).toBeCloseTo(before.ratePerSecond, 9);
    expect(after.pauseRemainingMs).toBe(0);
  });

  it('refuses a spec it cannot honour, naming the field and the value', async () => {
    const budget = await create(new VirtualClock());
    await expect(budget.take('x', { ...specFor(10), burst: 0.5 })).rejects.toThrow(
      'rate budget burst must be a finite number >= 1, got 0.5',
    );
    await expect(budget.take('x', { ...specFor(10), ratePerSecond: Number.NaN })).rejects.toThrow(
      /ratePerSecond/,
    );
  });
});

describe('local and Redis buckets', () => {
  it('give the same answers to the same sequence of takes and signals', async () => {
    const localClock = new VirtualClock();
    const redisClock = new VirtualClock();
    const local = new LocalRateBudget({ now: localClock.now });
    const shared = await redisBudget(redisClock);
    const bucket = newBucket();
    const spec = specFor(50, { maxPauseMs: 3_000 });
    // A deterministic pseudo-random walk (no Math.random: a failure must replay).
    let seed = 42;
    const next = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let step = 0; step < 300; step += 1) {
      const dt = Math.floor(next() * 40);
      localClock.advance(dt);
      redisClock.advance(dt);
      const roll = next();
      if (roll < 0.03) {
        await local.throttle(bucket, spec, { halve: true, pauseMs: 500 });
        await shared.throttle(bucket, spec, { halve: true, pauseMs: 500 });
      } else if (roll < 0.05) {
        const signal = { spread: { remaining: 3, windowMs: 2_000 } };
        await local.throttle(bucket, spec, signal);
        await shared.throttle(bucket, spec, signal);
      } else {
        const a = await local.take(bucket, spec);
        const b = await shared.take(bucket, spec);
        expect(b.granted, `step ${step}`).toBe(a.granted);
        expect(b.tokens).toBeCloseTo(a.tokens, 6);
        expect(b.ratePerSecond).toBeCloseTo(a.ratePerSecond, 6);
        if (!a.granted && !b.granted) expect(b.retryAfterMs).toBeCloseTo(a.retryAfterMs, 4);
      }
    }
  });
});

/** The most grants inside any window of `windowMs` (sorted times). */
function maxInWindow(times: number[], windowMs: number): number {
  let best = 0;
  let start = 0;
  for (let end = 0; end < times.length; end += 1) {
    while ((times[end] ?? 0) - (times[start] ?? 0) >= windowMs) start += 1;
    best = Math.max(best, end - start + 1);
  }
  return best;
}

describe('two replicas sharing one Redis bucket', () => {
  it('never exceed the limit in any 1 s window, and still spend at least 80 % of it (virtual time)', async () => {
    const clock = new VirtualClock();
    const a = await redisBudget(clock);
    const b = await redisBudget(clock);
    const bucket = newBucket();
    const spec = specFor(90);
    const grants: number[] = [];
    const perReplica = [0, 0];
    const start = clock.ms;
    // Both replicas want far more than the limit: every 5 ms each takes until refused.
    for (let t = 0; t < 5_000; t += 5) {
      // Alternate who asks first, as two busy replicas would.
      const order: [number, RedisRateBudget][] =
        (t / 5) % 2 === 0
          ? [
              [0, a],
              [1, b],
            ]
          : [
              [1, b],
              [0, a],
            ];
      for (const [i, budget] of order) {
        for (let k = 0; k < 10; k += 1) {
          if (!(await budget.take(bucket, spec)).granted) break;
          grants.push(clock.ms - start);
          perReplica[i] = (perReplica[i] ?? 0) + 1;
        }
      }
      clock.advance(5);
    }
    expect(maxInWindow(grants, 1_000)).toBeLessThanOrEqual(90);
    expect(grants.length).toBeGreaterThanOrEqual(0.8 * 90 * 5);
    expect(perReplica[0]).toBeGreaterThan(0.2 * grants.length);
    expect(perReplica[1]).toBeGreaterThan(0.2 * grants.length);
  });

  it("spend at most burst + rate × elapsed together on Redis' own clock (bounded real-time run)", async () => {
    const a = await redisBudget();
    const b = await redisBudget();
    const bucket = newBucket();
    const spec = specFor(50); // burst 5, rate 45/s
    let granted = 0;
    const started = performance.now();
    const hammer = async (budget: RedisRateBudget) => {
      while (performance.now() - started < 1_200) {
        const answer = await budget.take(bucket, spec);
        if (answer.granted) granted += 1;
        else await new Promise((resolve) => setTimeout(resolve, Math.min(answer.retryAfterMs, 20)));
      }
    };
    await Promise.all([hammer(a), hammer(a), hammer(b), hammer(b)]);
    const elapsedS = (performance.now() - started) / 1000;
    expect(granted).toBeLessThanOrEqual(Math.floor(5 + 45 * elapsedS) + 1);
    expect(granted).toBeGreaterThanOrEqual(0.8 * 45 * 1.2);
  });

  it('a 429 and a pause seen by one replica slow and pause the other, within maxPauseMs', async () => {
    const clock = new VirtualClock();
    const a = await redisBudget(clock);
    const b = await redisBudget(clock);
    const bucket = newBucket();
    const spec = specFor(100, { maxPauseMs: 5_000 });
    await a.throttle(bucket, spec, { halve: true, pauseMs: 60 * 60 * 1000 });
    const snap = await b.snapshot(bucket, spec);
    expect(snap.shared).toBe(true);
    expect(snap.ratePerSecond).toBeCloseTo(45, 6);
    expect(snap.pauseRemainingMs).toBeCloseTo(5_000, 3);
    const refused = await b.take(bucket, spec);
    expect(refused.granted).toBe(false);
    clock.advance(Math.ceil(5_000 + 1000 / 45));
    expect((await b.take(bucket, spec)).granted).toBe(true);
  });
});

describe('Redis cut', () => {
  it('each replica falls back at once to the limit divided by the live replicas it last knew', async () => {
    const registries: ReplicaRegistry[] = [];
    const connections = await Promise.all([0, 1, 2].map(() => connectUp(prefix, { url: proxy.url })));
    open.push(...connections);
    for (const connection of connections) {
      registries.push(new ReplicaRegistry({ connection, heartbeatIntervalMs: 200, ttlMs: 1_000 }));
    }
    await Promise.all(registries.map((r) => r.start()));
    await Promise.all(registries.map((r) => r.beat()));
    expect(registries.map((r) => r.count)).toEqual([3, 3, 3]);
    const [first] = connections;
    const [registry] = registries;
    if (!first || !registry) throw new Error('setup');
    const budget = new RedisRateBudget({ connection: first, replicas: registry, rejoinHoldMs: 300 });
    budgets.push(budget);
    const bucket = newBucket();
    const spec = specFor(90, { ratePerSecond: 0.9 }); // burst 9, slow refill: counts stay exact
    expect((await budget.take(bucket, spec)).shared).toBe(true);

    proxy.cut();
    expect(await eventually(() => first.state === 'degraded', 1_000)).toBe(true);
    const answers = [];
    for (let i = 0; i < 5; i += 1) {
      const started = performance.now();
      answers.push(await budget.take(bucket, spec));
      expect(performance.now() - started).toBeLessThan(150);
    }
    // Its share: 8 tokens were left in the shared bucket, a third of them here; rate 0.3/s.
    expect(answers.every((a) => !a.shared)).toBe(true);
    expect(answers.filter((a) => a.granted)).toHaveLength(2);
    expect(answers[4]?.ratePerSecond).toBeCloseTo(0.3, 6);
    await registry.beat();
    expect(registry.count).toBe(3); // the last known count is kept while Redis is away
    await Promise.all(registries.map((r) => r.stop()));
  });

  it('a pause set in Redis before the cut still holds on the local bucket', async () => {
    const budget = await redisBudget(undefined, proxy.url, 2);
    const bucket = newBucket();
    const spec = specFor(100);
    await budget.throttle(bucket, spec, { pauseMs: 5_000 });
    const paused = await budget.take(bucket, spec);
    expect(paused).toMatchObject({ granted: false, shared: true });
    proxy.cut();
    await eventually(() => !budget.sharing, 1_000);
    const local = await budget.take(bucket, spec);
    expect(local.shared).toBe(false);
    expect(local.granted).toBe(false);
    if (local.granted) return;
    expect(local.retryAfterMs).toBeGreaterThan(4_000);
  });

  it('after the cut, replicas hold their local budgets together, then charge the shared bucket what they spent', async () => {
    const a = await redisBudget(undefined, proxy.url, 3);
    const b = await redisBudget(undefined, proxy.url, 3);
    const bucket = newBucket();
    const spec = specFor(90, { ratePerSecond: 0.5 }); // burst 9, share 3; refill negligible here
    proxy.cut();
    expect(await eventually(() => !a.sharing && !b.sharing, 1_000)).toBe(true);
    let localGrants = 0;
    for (let i = 0; i < 5; i += 1) if ((await a.take(bucket, spec)).granted) localGrants += 1;
    expect(localGrants).toBe(3);

    proxy.restore();
    const firstShared: number[] = [];
    const started = performance.now();
    await eventually(() => {
      for (const [i, budget] of [a, b].entries()) {
        if (firstShared[i] === undefined && budget.sharing) firstShared[i] = performance.now() - started;
      }
      return firstShared[0] !== undefined && firstShared[1] !== undefined;
    }, 3_000);
    // Both switch back at the same moment, after the hold.
    expect(Math.abs((firstShared[0] ?? 0) - (firstShared[1] ?? 0))).toBeLessThan(100);
    expect(firstShared[0]).toBeGreaterThanOrEqual(250);

    // The shared bucket (9) is charged the 3 tokens A spent locally, once even when A's first takes
    // run concurrently: 6 remain for both together.
    const answers = await Promise.all([a.take(bucket, spec), a.take(bucket, spec), b.take(bucket, spec)]);
    for (let i = 0; i < 7; i += 1) answers.push(await (i % 2 === 0 ? a : b).take(bucket, spec));
    expect(answers.every((answer) => answer.shared)).toBe(true);
    expect(answers.filter((answer) => answer.granted)).toHaveLength(6);
  });

  it('a replica that starts while the others share uses the shared bucket at once (no hold)', async () => {
    const a = await redisBudget();
    expect(a.sharing).toBe(true);
    const bucket = newBucket();
    expect((await a.take(bucket, specFor(10))).shared).toBe(true);
    // Built before its connection is up, as at startup: shares as soon as Redis answers.
    const connection = connect(prefix);
    open.push(connection);
    const fresh = new RedisRateBudget({ connection, replicas: { count: 1 }, rejoinHoldMs: 2_000 });
    budgets.push(fresh);
    expect(fresh.sharing).toBe(false);
    const started = performance.now();
    expect(await eventually(() => fresh.sharing, 1_500)).toBe(true);
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it("a replica that starts during the others' rejoin hold switches to shared with them", async () => {
    const a = await redisBudget(undefined, proxy.url, 2);
    const aConnection = open.at(-1);
    proxy.cut();
    expect(await eventually(() => !a.sharing, 1_000)).toBe(true);
    proxy.restore();
    expect(await eventually(() => aConnection?.state === 'up', 2_000)).toBe(true);
    // Starting now, inside the hold A has just set.
    const connection = connect(prefix);
    open.push(connection);
    const fresh = new RedisRateBudget({ connection, replicas: { count: 2 }, rejoinHoldMs: 300 });
    budgets.push(fresh);
    const started = performance.now();
    const firstShared: number[] = [];
    await eventually(() => {
      for (const [i, budget] of [a, fresh].entries()) {
        if (firstShared[i] === undefined && budget.sharing) firstShared[i] = performance.now() - started;
      }
      return firstShared[0] !== undefined && firstShared[1] !== undefined;
    }, 2_000);
    expect(firstShared[1]).toBeGreaterThan(100);
    expect(Math.abs((firstShared[0] ?? 0) - (firstShared[1] ?? 0))).toBeLessThan(100);
  });
});

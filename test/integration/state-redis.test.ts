// The Redis connection against the real Redis, cut and stalled through a TCP proxy (never by
// stopping the shared server): health, one log line and one metric call per state change, fallback
// within the command timeout, rejoin without a restart.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  isRedisUnavailableError,
  LuaScript,
  type RedisConnection,
  type RedisStateChange,
} from '../../src/state/redis.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcpProxy.js';
import {
  captureLog,
  connect,
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

function track(connection: RedisConnection): RedisConnection {
  open.push(connection);
  return connection;
}

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await work();
  return { value, ms: performance.now() - started };
}

describe('RedisConnection', () => {
  it('comes up with one log line and namespaces keys under the prefix, hashing long parts', async () => {
    const log = captureLog();
    const changes: RedisStateChange[] = [];
    const connection = track(
      await connectUp(prefix, { logger: log, onStateChange: (change) => changes.push(change) }),
    );
    expect(connection.state).toBe('up');
    expect(changes).toEqual([{ state: 'up', previous: 'degraded', reason: 'connected' }]);
    expect(log.lines.map((l) => l.level)).toEqual(['info']);
    expect(connection.key('a', 'b')).toBe(`${prefix}a:b`);
    const long = connection.key('dedupe', 'x'.repeat(500));
    expect(long.length).toBeLessThan(prefix.length + 60);
    expect(long).toMatch(new RegExp(`^${prefix}dedupe:#[A-Za-z0-9_-]{43}$`));
    await connection.run((c) => c.set(connection.key('k'), 'v', 'PX', 10_000));
    const raw = rawClient();
    expect(await raw.get(`${prefix}k`)).toBe('v');
    raw.disconnect();
  });

  it('runs a script by SHA and sends it whole only when Redis does not know it (NOSCRIPT)', async () => {
    const connection = track(await connectUp(prefix));
    // A body no Redis has seen: the first EVALSHA must fail with NOSCRIPT.
    const script = new LuaScript(`return ARGV[1] .. '-${prefix}${Date.now()}'`);
    const raw = rawClient();
    expect(await raw.script('EXISTS', script.sha)).toEqual([0]);
    expect(await connection.run((c) => script.run(c, [], ['one']))).toMatch(/^one-/);
    expect(await raw.script('EXISTS', script.sha)).toEqual([1]);
    expect(await connection.run((c) => script.run(c, [], ['two']))).toMatch(/^two-/);
    raw.disconnect();
  });

  it('passes a Redis error reply through without degrading', async () => {
    const connection = track(await connectUp(prefix));
    await connection.run((c) => c.set(connection.key('text'), 'abc', 'PX', 10_000));
    await expect(connection.run((c) => c.incr(connection.key('text')))).rejects.toThrow(/not an integer/);
    expect(connection.state).toBe('up');
  });

  it('cut: degrades at once with one log line and one metric call, falls back fast, rejoins by itself', async () => {
    const log = captureLog();
    const changes: RedisStateChange[] = [];
    const connection = track(
      await connectUp(prefix, {
        url: proxy.url,
        logger: log,
        onStateChange: (change) => changes.push(change),
      }),
    );
    changes.length = 0;
    log.lines.length = 0;
    proxy.cut();
    expect(await eventually(() => connection.state === 'degraded', 1_000)).toBe(true);
    // Every call now answers from the fallback without touching the network.
    for (let i = 0; i < 20; i += 1) {
      const { value, ms } = await timed(() =>
        connection.guard(
          (c) => c.get(connection.key('k')),
          () => 'local',
        ),
      );
      expect(value).toBe('local');
      expect(ms).toBeLessThan(connection.commandTimeoutMs + 100);
    }
    await expect(connection.run((c) => c.ping())).rejects.toSatisfy(isRedisUnavailableError);
    // Reconnect attempts keep failing while cut: still one line, one metric call.
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(changes.map((c) => c.state)).toEqual(['degraded']);
    expect(log.lines.filter((l) => l.level === 'warn')).toHaveLength(1);
    expect(log.lines[0]?.object).toMatchObject({ redis: proxy.url, reason: 'ECONNRESET' });

    proxy.restore();
    expect(await eventually(() => connection.state === 'up', 3_000)).toBe(true);
    expect(changes.map((c) => c.state)).toEqual(['degraded', 'up']);
    expect(log.lines.map((l) => l.level)).toEqual(['warn', 'info']);
    expect(await connection.run((c) => c.ping())).toBe('PONG');
  });

  it('stall (Redis hangs): a call gives up within the command timeout, degrades, and a probe brings it back', async () => {
    const changes: RedisStateChange[] = [];
    const connection = track(
      await connectUp(prefix, { url: proxy.url, onStateChange: (change) => changes.push(change) }),
    );
    proxy.stall();
    const { value, ms } = await timed(() =>
      connection.guard(
        (c) => c.get(connection.key('k')),
        () => 'local',
      ),
    );
    expect(value).toBe('local');
    expect(ms).toBeGreaterThanOrEqual(connection.commandTimeoutMs - 5);
    expect(ms).toBeLessThan(connection.commandTimeoutMs + 400);
    expect(connection.state).toBe('degraded');
    expect(changes.at(-1)).toMatchObject({ state: 'degraded', reason: 'timeout' });
    // While degraded, nothing waits: the fallback answers at once.
    const again = await timed(() =>
      connection.guard(
        (c) => c.get(connection.key('k')),
        () => 'local',
      ),
    );
    expect(again.ms).toBeLessThan(150);
    proxy.restore();
    expect(await eventually(() => connection.state === 'up', 3_000)).toBe(true);
    expect(changes.at(-1)).toMatchObject({ state: 'up' });
  });

  it('unreachable at start: degraded, one log line without the password, every guard falls back', async () => {
    proxy.cut();
    const log = captureLog();
    const url = `redis://junction:s3cret-password@127.0.0.1:${proxy.port}/2`;
    const connection = track(connect(prefix, { url, logger: log }));
    expect(await connection.waitUntilUp(400)).toBe(false);
    expect(connection.state).toBe('degraded');
    expect(log.lines).toHaveLength(1);
    expect(log.lines[0]).toMatchObject({
      level: 'warn',
      object: { redis: `redis://127.0.0.1:${proxy.port}/2` },
    });
    expect(JSON.stringify(log.lines)).not.toContain('s3cret');
    expect(connection.target).not.toContain('s3cret');
    expect(
      await connection.guard(
        (c) => c.ping(),
        () => 'fallback',
      ),
    ).toBe('fallback');
  });

  it('delivers a message published on one connection to a subscriber on another, and resubscribes after a cut', async () => {
    const a = track(await connectUp(prefix));
    const b = track(await connectUp(prefix, { url: proxy.url }));
    const received: string[] = [];
    let resubscribed = 0;
    b.onResubscribed(() => {
      resubscribed += 1;
    });
    b.subscribe('chan', (message) => received.push(message.toString()));
    expect(await eventually(() => b.isSubscribed('chan'), 2_000)).toBe(true);
    await eventually(async () => {
      await a.publish('chan', 'hello');
      return received.includes('hello');
    }, 2_000);
    expect(received).toContain('hello');
    proxy.cut();
    expect(await eventually(() => !b.isSubscribed('chan'), 1_000)).toBe(true);
    proxy.restore();
    expect(await eventually(() => resubscribed === 1 && b.isSubscribed('chan'), 3_000)).toBe(true);
    received.length = 0;
    expect(
      await eventually(async () => {
        await a.publish('chan', 'again');
        return received.includes('again');
      }, 2_000),
    ).toBe(true);
  });

  it('close: degraded for good, no reconnect', async () => {
    const connection = await connectUp(prefix);
    await connection.close();
    expect(connection.state).toBe('degraded');
    expect(
      await connection.guard(
        (c) => c.ping(),
        () => 'closed',
      ),
    ).toBe('closed');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(connection.state).toBe('degraded');
  });
});

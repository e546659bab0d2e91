// Real-Redis test support: a unique key prefix per test file, connections built like production's,
// and a cleanup that deletes only this prefix's keys (SCAN over our own prefix, never FLUSHDB).
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { STATE_TUNING } from '../../../../src/state/config.js';
import { RedisConnection, type RedisConnectionOptions } from '../../../../src/state/redis.js';

/** The shared Redis the tests use (CI starts it when it is down). */
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const target = new URL(REDIS_URL);
export const REDIS_TARGET = { host: target.hostname, port: Number(target.port || 6379) };

/** `junction-test:<random>:`, unique per call. */
export function testPrefix(): string {
  return `junction-test:${randomUUID().slice(0, 12)}:`;
}

/** Captured log lines, to count "one line per state change". */
export interface CapturedLog {
  lines: { level: 'info' | 'warn'; object: Record<string, unknown>; message: string }[];
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
}

export function captureLog(): CapturedLog {
  const lines: CapturedLog['lines'] = [];
  return {
    lines,
    info: (object, message) =>
      lines.push({ level: 'info', object: object as Record<string, unknown>, message }),
    warn: (object, message) =>
      lines.push({ level: 'warn', object: object as Record<string, unknown>, message }),
  };
}

export function connect(keyPrefix: string, overrides: Partial<RedisConnectionOptions> = {}): RedisConnection {
  return new RedisConnection({
    url: REDIS_URL,
    keyPrefix,
    commandTimeoutMs: 250,
    connectTimeoutMs: STATE_TUNING.connectTimeoutMs,
    reconnectMaxDelayMs: 100,
    probeIntervalMs: 100,
    ...overrides,
  });
}

/** Connects and waits until Redis answers (fails the test after 3 s). */
export async function connectUp(
  keyPrefix: string,
  overrides: Partial<RedisConnectionOptions> = {},
): Promise<RedisConnection> {
  const connection = connect(keyPrefix, overrides);
  if (!(await connection.waitUntilUp(3_000))) {
    await connection.close();
    throw new Error(`Redis at ${REDIS_URL} did not answer within 3 s`);
  }
  return connection;
}

/** A raw client for assertions and cleanup. */
export function rawClient(): Redis {
  return new Redis(REDIS_URL, { lazyConnect: false, maxRetriesPerRequest: 1 });
}

/** Deletes every key under `prefix` (and nothing else). */
export async function deletePrefix(prefix: string): Promise<number> {
  const client = rawClient();
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) deleted += await client.del(...keys);
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
  return deleted;
}

/** Polls `check` every 10 ms until it holds or `timeoutMs` passes; resolves to whether it held. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

// The cluster command's own keys: a run that chose its key prefix itself removes what its replicas
// wrote under it when it stops (every key also expires on its own; this just leaves nothing behind).
import { Redis } from 'ioredis';

/**
 * Deletes every key under `prefix` (and nothing else) at `redisUrl`; resolves to how many. Best
 * effort within `timeoutMs`: a Redis that is down or slow leaves the keys to their TTLs.
 */
export async function deleteKeysUnder(redisUrl: string, prefix: string, timeoutMs = 5_000): Promise<number> {
  if (prefix.length === 0)
    throw new Error('deleteKeysUnder: refusing an empty prefix (it would match every key)');
  const client = new Redis(redisUrl, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on('error', () => {}); // reported by the commands below
  // Glob characters in the prefix are matched literally.
  const pattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
  let deleted = 0;
  try {
    await client.connect();
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) deleted += await client.unlink(...keys);
    } while (cursor !== '0');
  } catch {
    // Down or slow: the keys expire by themselves.
  } finally {
    client.disconnect();
  }
  return deleted;
}

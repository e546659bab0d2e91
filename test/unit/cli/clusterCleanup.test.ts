// The cluster command's cleanup against the real Redis: every key under its prefix goes, keys of
// anyone else (another prefix, a prefix that merely starts the same, glob characters) stay.
import { afterAll, describe, expect, it } from 'vitest';
import { deleteKeysUnder } from '../../../src/cli/cluster/cleanup.js';
import { deletePrefix, REDIS_URL, rawClient, testPrefix } from '../state/support/redis.js';

const prefix = testPrefix();
afterAll(async () => {
  await deletePrefix(prefix);
});

describe('cluster cleanup', () => {
  it('deletes every key under its prefix and nothing else', async () => {
    const redis = rawClient();
    try {
      const mine = `${prefix}run*1:`;
      for (let i = 0; i < 1200; i += 1) await redis.set(`${mine}cache:${i}`, 'x', 'EX', 60);
      await redis.set(`${prefix}run*10:other`, 'keep', 'EX', 60); // starts like it, is not under it
      await redis.set(`${prefix}runX1:glob`, 'keep', 'EX', 60); // what an unescaped * would match
      expect(await deleteKeysUnder(REDIS_URL, mine)).toBe(1200);
      expect(await redis.keys(`${prefix}*`)).toEqual(
        expect.arrayContaining([`${prefix}run*10:other`, `${prefix}runX1:glob`]),
      );
      expect((await redis.keys(`${prefix}*`)).length).toBe(2);
    } finally {
      redis.disconnect();
    }
  });

  it('gives up quietly when Redis cannot be reached, and refuses an empty prefix', async () => {
    expect(await deleteKeysUnder('redis://127.0.0.1:9', 'x:', 500)).toBe(0);
    await expect(deleteKeysUnder(REDIS_URL, '')).rejects.toThrow(/empty prefix/);
  });
});

// `npm run bench:memory`: what one cached upstream answer costs Junction in heap and RSS. One
// Junction (NODE_ENV=production, --expose-gc) on the simulators; heap and RSS read after full
// collections, before and after queries that fill the shared cache with every seeded user, their
// Stripe customer and payment list (byIds, 20 ids a query, each user once). Prints, per entry:
// heap, RSS, and the cache's own size estimate (what CACHE_MAX_BYTES is counted in).
import { pinSelf, spawnChild } from './lib/child.js';
import { clientToken } from './lib/clientToken.js';
import { loadBenchConfig } from './lib/config.js';
import { rssMiB } from './lib/load.js';
import { body, byIdsQuery, USER_IDS } from './lib/queries.js';
import { BENCH_JWT_SECRET, systemEnv } from './lib/systems.js';
import type { SimsInfo } from './sims.js';

interface Memory {
  collected: boolean;
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  cache: { entries: number; bytes: number };
}

const cfg = loadBenchConfig();
const users = Math.min(USER_IDS.length, Number(process.env.BENCH_MEMORY_USERS ?? USER_IDS.length));

async function main(): Promise<void> {
  if (!Number.isInteger(users) || users < 20) throw new Error('BENCH_MEMORY_USERS: at least 20');
  if (cfg.pin) pinSelf(cfg.loadCpus);
  const sims = spawnChild({
    entry: 'test/bench/sims.ts',
    env: {},
    cpus: cfg.pin ? cfg.loadCpus : undefined,
    label: 'sims',
  });
  try {
    const info = ((await sims.ready) as { info: SimsInfo }).info;
    const junction = spawnChild({
      entry: 'test/bench/servers/junction.ts',
      env: systemEnv('junction', info, {
        connections: cfg.upstreamConnections,
        timeoutMs: cfg.upstreamTimeoutMs,
        rateLimit: cfg.junctionRateLimit,
      }),
      cpus: cfg.pin ? cfg.sutCpus : undefined,
      nodeArgs: ['--expose-gc'],
      label: 'junction',
    });
    try {
      const url = `${(await junction.ready).url as string}/graphql`;
      const token = await clientToken(BENCH_JWT_SECRET, { sub: 'usr_0001', admin: true, ttlSeconds: 3600 });
      const send = async (ids: string[]) => {
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: body(byIdsQuery(ids)),
        });
        const json = (await res.json()) as { errors?: unknown };
        if (res.status !== 200 || json.errors)
          throw new Error(`query failed: ${JSON.stringify(json).slice(0, 300)}`);
      };
      // Warm: every code path once, then the cache emptied, so the difference is the entries.
      for (let i = 0; i < 30; i++) await send(USER_IDS.slice(0, 20));
      await junction.request('clearCache');
      const before = await junction.request<Memory>('memory');
      for (let i = 0; i < users; i += 20) await send(USER_IDS.slice(i, Math.min(users, i + 20)));
      const after = await junction.request<Memory>('memory');
      const entries = after.cache.entries - before.cache.entries;
      const per = (a: number, b: number) => Math.round((a - b) / Math.max(1, entries));
      const result = {
        users,
        collected: after.collected,
        entries,
        cacheEstimateBytesPerEntry: per(after.cache.bytes, before.cache.bytes),
        heapBytesPerEntry: per(after.heapUsed, before.heapUsed),
        externalBytesPerEntry: per(after.external, before.external),
        rssBytesPerEntry: per(after.rss, before.rss),
        before: { rssMiB: before.rss / 2 ** 20, heapMiB: before.heapUsed / 2 ** 20 },
        after: {
          rssMiB: after.rss / 2 ** 20,
          heapMiB: after.heapUsed / 2 ** 20,
          cacheMiB: after.cache.bytes / 2 ** 20,
        },
      };
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    } finally {
      await junction.stop();
    }
    // For scale: B3's RSS after the same warm-up and fill (it keeps no cache across operations).
    const b3 = spawnChild({
      entry: 'test/bench/baselines/dataloader.ts',
      env: systemEnv('dataloader', info, {
        connections: cfg.upstreamConnections,
        timeoutMs: cfg.upstreamTimeoutMs,
        rateLimit: cfg.junctionRateLimit,
      }),
      cpus: cfg.pin ? cfg.sutCpus : undefined,
      label: 'dataloader',
    });
    try {
      const url = `${(await b3.ready).url as string}/graphql`;
      const token = await clientToken(BENCH_JWT_SECRET, { sub: 'usr_0001', admin: true, ttlSeconds: 3600 });
      const send = (ids: string[]) =>
        fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: body(byIdsQuery(ids)),
        }).then((r) => r.text());
      for (let i = 0; i < 30; i++) await send(USER_IDS.slice(0, 20));
      const warm = rssMiB(b3.pid);
      for (let i = 0; i < users; i += 20) await send(USER_IDS.slice(i, Math.min(users, i + 20)));
      process.stdout.write(
        `${JSON.stringify({ dataloader: { rssMiBAfterWarmup: warm, rssMiBAfterFill: rssMiB(b3.pid) } })}\n`,
      );
    } finally {
      await b3.stop();
    }
  } finally {
    await sims.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `bench:memory failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});

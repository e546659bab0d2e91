// `npm run bench:cluster` (scenario S7): 1 vs 3 Junction replicas behind HAProxy sharing Redis, on
// the S3 workload (Zipf byIds queries, 5 ids each, 50 connections): req/s, p50/p95 and upstream calls
// per query; then the latency of an L2 hit (another replica filled Redis) against an L1 hit (this
// replica's own cache). Bounded (BENCH_S7_MAX_S, default 120 s), loopback only, one Redis key prefix
// per run deleted at the end. Writes test/bench/results/s7.json and prints a Markdown table.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Cluster, startCluster } from '../../src/cli/cluster/cluster.js';
import { mintToken } from '../../src/graphql/viewer.js';
import type { Simulator } from '../../src/simulators/shared/simulator.js';
import { deletePrefix, REDIS_URL, testPrefix } from '../unit/state/support/redis.js';
import { percentile, runLoad } from './lib/load.js';
import { body, byIdsQuery, USER_IDS, zipf } from './lib/queries.js';

const num = (name: string, fallback: number) => {
  const raw = process.env[name];
  const value = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name}: a number >= 0`);
  return value;
};
const DURATION_S = num('BENCH_DURATION_S', 10);
const WARMUP_S = num('BENCH_S3_WARMUP_S', 5);
const CONNECTIONS = num('BENCH_S3_CONNECTIONS', 50);
const IDS = num('BENCH_S3_IDS', 5);
const HITS = num('BENCH_S7_HITS', 200);
const MAX_S = num('BENCH_S7_MAX_S', 120);
const started = Date.now();
const log = (m: string) =>
  process.stderr.write(`[s7 ${((Date.now() - started) / 1000).toFixed(0).padStart(3)}s] ${m}\n`);

let live: Cluster | undefined;
const prefixes: string[] = [];
const watchdog = setTimeout(() => {
  log(`watchdog: over ${MAX_S} s; stopping`);
  void (live?.close(2_000) ?? Promise.resolve()).finally(() => process.exit(2));
}, MAX_S * 1000);
watchdog.unref();
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.on(signal, () => void (live?.close(2_000) ?? Promise.resolve()).finally(() => process.exit(130)));

/** Data calls the simulators saw (OAuth token requests left out). */
const dataCalls = (c: Cluster) =>
  Object.values(c.demos).reduce(
    (n, d) => n + (d.simulator as Simulator).requests.filter((r) => r.route !== 'POST /oauth/token').length,
    0,
  );
const resetCounts = (c: Cluster) => {
  for (const d of Object.values(c.demos)) (d.simulator as Simulator).resetCounters();
};

async function start(replicas: number): Promise<Cluster> {
  const keyPrefix = testPrefix();
  prefixes.push(keyPrefix);
  live = await startCluster({
    replicas,
    redisUrl: REDIS_URL,
    keyPrefix,
    env: {
      LOG_LEVEL: 'silent',
      CLIENT_RATE_LIMIT_PER_MINUTE: '0',
      // As the main bench: the simulators have no limits, Junction's own would throttle the load.
      USERS_RATE_LIMIT_PER_SECOND: '100000',
      STRIPE_RATE_LIMIT_PER_SECOND: '100000',
      UPSTREAM_CONNECTIONS: '32',
      UPSTREAM_CONCURRENCY: '32',
      SHUTDOWN_READINESS_DELAY_MS: '0',
    },
  });
  return live;
}

interface S7Row {
  replicas: number;
  rps: number;
  p50: number;
  p95: number;
  p99: number;
  non2xx: number;
  errors: number;
  upstreamPerQuery: number;
}

/** An admin token for this cluster's secret. */
async function headersFor(c: Cluster): Promise<Record<string, string>> {
  const token = await mintToken(c.jwtSecret, { sub: 'usr_0001', admin: true, ttlSeconds: 3600 });
  return { authorization: `Bearer ${token}` };
}

async function throughput(replicas: number): Promise<S7Row> {
  const c = await start(replicas);
  try {
    const headers = await headersFor(c);
    log(`${replicas} replica(s) ready behind ${c.url}`);
    const draw = zipf(1.1, 31);
    const bodies = Array.from({ length: 5000 }, () => body(byIdsQuery(Array.from({ length: IDS }, draw))));
    if (WARMUP_S > 0)
      await runLoad({ url: c.url, connections: CONNECTIONS, durationS: WARMUP_S, headers, bodies });
    resetCounts(c);
    const r = await runLoad({ url: c.url, connections: CONNECTIONS, durationS: DURATION_S, headers, bodies });
    const row = {
      replicas,
      rps: r.rps,
      p50: r.p50,
      p95: r.p95,
      p99: r.p99,
      non2xx: r.non2xx,
      errors: r.errors,
      upstreamPerQuery: dataCalls(c) / Math.max(1, r.requests),
    };
    log(
      `${replicas} replica(s): ${r.rps.toFixed(0)} req/s, p50 ${r.p50.toFixed(1)} p95 ${r.p95.toFixed(1)} ms, ${row.upstreamPerQuery.toFixed(3)} upstream calls/query`,
    );
    return row;
  } finally {
    await c.close();
    live = undefined;
  }
}

/** Sequential single queries: the first read on replica B after A filled Redis (L2), then B again (L1). */
async function l2VersusL1() {
  const c = await start(3);
  try {
    const headers = await headersFor(c);
    const [a, b] = c.replicas as [Cluster['replicas'][number], Cluster['replicas'][number]];
    const timed = async (url: string, id: string) => {
      const t = performance.now();
      const res = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: body({ query: `{ user(id: "${id}") { id name billing { id } } }` }),
      });
      await res.arrayBuffer();
      return performance.now() - t;
    };
    // Warm both replicas' sockets and OAuth tokens with users outside the measured set.
    for (const id of USER_IDS.slice(-20)) {
      await timed(a.url, id);
      await timed(b.url, id);
    }
    const l2: number[] = [];
    const l1: number[] = [];
    let l2Upstream = 0;
    for (const id of USER_IDS.slice(0, Math.min(HITS, USER_IDS.length - 20))) {
      await timed(a.url, id); // miss: fills A's L1 and Redis
      const before = dataCalls(c);
      l2.push(await timed(b.url, id));
      l2Upstream += dataCalls(c) - before;
      l1.push(await timed(b.url, id));
    }
    const sorted = (xs: number[]) => Float64Array.from(xs).sort();
    const s2 = sorted(l2);
    const s1 = sorted(l1);
    const out = {
      samples: l2.length,
      l2: { p50: percentile(s2, 50), p95: percentile(s2, 95) },
      l1: { p50: percentile(s1, 50), p95: percentile(s1, 95) },
      // 0 when B's first read really came from Redis; about 3 (user, customer, payments) when it did not.
      upstreamCallsPerL2Read: l2Upstream / Math.max(1, l2.length),
    };
    log(
      `L2 hit p50 ${out.l2.p50.toFixed(2)} ms (p95 ${out.l2.p95.toFixed(2)}), L1 hit p50 ${out.l1.p50.toFixed(2)} ms (p95 ${out.l1.p95.toFixed(2)}); upstream calls per "L2" read ${out.upstreamCallsPerL2Read.toFixed(2)}`,
    );
    return out;
  } finally {
    await c.close();
    live = undefined;
  }
}

async function main(): Promise<void> {
  const rows: S7Row[] = [];
  for (const replicas of [1, 3]) rows.push(await throughput(replicas));
  const hits = await l2VersusL1();
  const result = {
    scenario: 'S7',
    date: new Date().toISOString(),
    config: {
      durationS: DURATION_S,
      warmupS: WARMUP_S,
      connections: CONNECTIONS,
      idsPerQuery: IDS,
      hits: HITS,
    },
    rows,
    hits,
    notes: [
      'Simulators, HAProxy, the load generator and every replica share this machine; with 2 cores, 3 replicas compete for the same CPUs as 1 (the figures show the cost of sharing state, not horizontal scaling).',
    ],
  };
  const dir = resolve(process.env.BENCH_OUT_DIR ?? 'test/bench/results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 's7.json'), `${JSON.stringify(result, null, 2)}\n`);
  const md = [
    '| S7 | req/s | p50 ms | p95 ms | upstream calls/query | non-2xx |',
    '|---|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.replicas} replica${r.replicas > 1 ? 's' : ''} + HAProxy + Redis | ${r.rps.toFixed(0)} | ${r.p50.toFixed(1)} | ${r.p95.toFixed(1)} | ${r.upstreamPerQuery.toFixed(3)} | ${r.non2xx} |`,
    ),
    '',
    `L2 hit (another replica filled Redis): p50 ${hits.l2.p50.toFixed(2)} ms, p95 ${hits.l2.p95.toFixed(2)} ms; L1 hit: p50 ${hits.l1.p50.toFixed(2)} ms, p95 ${hits.l1.p95.toFixed(2)} ms (${hits.samples} users, upstream calls per L2 read ${hits.upstreamCallsPerL2Read.toFixed(2)}).`,
  ].join('\n');
  process.stdout.write(`${md}\n`);
  log(`wrote ${join(dir, 's7.json')}`);
}

main()
  .catch((error: unknown) => {
    log(`S7 failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exitCode = 1;
  })
  .finally(async () => {
    clearTimeout(watchdog);
    await live?.close(2_000);
    for (const prefix of prefixes) await deletePrefix(prefix).catch(() => 0);
  });

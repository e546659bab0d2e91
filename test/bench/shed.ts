// `npm run bench:shed` (scenario S8, load shedding): Junction on one pinned core, offered about
// twice what it can serve, open loop (a fixed request rate over many connections, as independent
// clients send), once with load shedding off and once on. Reported per run: accepted (200) and shed
// (503) requests per second, and the latency percentiles of each. Bounded: every run lasts
// BENCH_SHED_DURATION_S and targets 127.0.0.1 only. Writes test/bench/results/shed.{json,md}.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import autocannon from 'autocannon';
import {
  type Child,
  liveChildren,
  pinSelf,
  type SystemChild,
  spawnChild,
  tasksetAvailable,
} from './lib/child.js';
import { clientToken } from './lib/clientToken.js';
import { cpuTicks, percentile } from './lib/load.js';
import { body, byIdsQuery, zipf } from './lib/queries.js';
import { BENCH_JWT_SECRET, systemEnv } from './lib/systems.js';
import type { SimsInfo } from './sims.js';

const num = (name: string, fallback: number) => {
  const raw = process.env[name];
  const value = raw === undefined ? fallback : Number(raw);
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`${name}: expected a positive number, got ${raw}`);
  return value;
};
const cfg = {
  durationS: num('BENCH_SHED_DURATION_S', 10),
  warmupS: num('BENCH_SHED_WARMUP_S', 3),
  /** Connections the open-loop load is spread over (the most requests that can be outstanding). */
  connections: num('BENCH_SHED_CONNECTIONS', 400),
  /**
   * Users per query (cached after the warm-up): enough resolver work per request that Junction,
   * not the load generator sharing a core with the simulators, is what saturates.
   */
  idsPerQuery: num('BENCH_SHED_IDS', 20),
  /** Offered rate as a multiple of the capacity measured first. */
  overload: num('BENCH_SHED_OVERLOAD', 2),
  /** The thresholds of the "on" run: requests in flight, and the default event-loop delay. */
  maxInFlight: num('BENCH_SHED_MAX_IN_FLIGHT', 16),
  maxEventLoopDelayMs: Number(process.env.BENCH_SHED_MAX_EVENT_LOOP_DELAY_MS ?? 100),
  sampleIntervalMs: num('BENCH_SHED_SAMPLE_INTERVAL_MS', 100),
  pin: process.env.BENCH_PIN !== '0',
  sutCpus: process.env.BENCH_SUT_CPUS ?? '1',
  loadCpus: process.env.BENCH_LOAD_CPUS ?? '0',
  outDir: process.env.BENCH_OUT_DIR ?? 'test/bench/results',
};

const ms = (value: number) => (Number.isNaN(value) ? '-' : value.toFixed(1));
const pct = (value: number | undefined) => (value === undefined ? '-' : `${value.toFixed(0)} %`);
const log = (message: string) => process.stderr.write(`[bench:shed] ${message}\n`);

interface RunResult {
  label: string;
  offeredRps: number;
  durationS: number;
  accepted: { rps: number; p50: number; p95: number; p99: number; max: number };
  shed: { rps: number; p50: number; p99: number };
  otherStatuses: number;
  errors: number;
  timeouts: number;
  /** CPU used during the run, in % of one core: Junction, and the load generator (this process). */
  junctionCpuPct: number | undefined;
  loadGeneratorCpuPct: number | undefined;
}

/** % of one core used between two readings of cpuTicks (100 ticks a second on Linux). */
function cpuPct(before: number | undefined, after: number | undefined, seconds: number): number | undefined {
  return before === undefined || after === undefined ? undefined : (after - before) / seconds;
}

function stats(latencies: number[]) {
  const sorted = Float64Array.from(latencies).sort();
  return {
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted.length > 0 ? (sorted[sorted.length - 1] as number) : Number.NaN,
  };
}

/** Open or closed loop load; latencies kept per status. `rate` undefined: as fast as responses come back. */
function load(
  url: string,
  headers: Record<string, string>,
  bodies: string[],
  durationS: number,
  connections: number,
  rate?: number,
) {
  const byStatus = new Map<number, number[]>();
  let next = 0;
  return new Promise<{ byStatus: Map<number, number[]>; result: autocannon.Result }>(
    (resolveRun, rejectRun) => {
      const instance = autocannon(
        {
          url,
          connections,
          duration: durationS,
          pipelining: 1,
          timeout: 10,
          ...(rate ? { overallRate: rate } : {}),
          requests: [
            {
              method: 'POST',
              path: '/graphql',
              headers: { 'content-type': 'application/json', ...headers },
              body: bodies[0] as string,
              setupRequest: (req: any) => {
                req.body = bodies[next++ % bodies.length];
                return req;
              },
            },
          ],
        },
        (error: unknown, result: autocannon.Result) =>
          error ? rejectRun(error) : resolveRun({ byStatus, result }),
      );
      instance.on('response', (_client: unknown, status: number, _bytes: number, responseTime: number) => {
        const list = byStatus.get(status) ?? [];
        if (list.length === 0) byStatus.set(status, list);
        list.push(responseTime);
      });
    },
  );
}

async function main(): Promise<void> {
  const watchdog = setTimeout(() => {
    log('watchdog: stopping');
    for (const child of liveChildren()) child.kill();
    process.exit(2);
  }, 10 * 60_000);
  watchdog.unref();
  const pinned = cfg.pin && tasksetAvailable() && pinSelf(cfg.loadCpus);
  log(pinned ? `Junction on CPU ${cfg.sutCpus}, load and simulators on CPU ${cfg.loadCpus}` : 'not pinned');
  const sims: Child = spawnChild({
    entry: 'test/bench/sims.ts',
    env: {},
    cpus: pinned ? cfg.loadCpus : undefined,
    label: 'sims',
  });
  const simsInfo = ((await sims.ready) as { info: SimsInfo }).info;
  const headers = {
    authorization: `Bearer ${await clientToken(BENCH_JWT_SECRET, { sub: 'usr_0001', admin: true, ttlSeconds: 3600 })}`,
  };
  const draw = zipf(1.1, 31);
  const bodies = Array.from({ length: 5000 }, () =>
    body(byIdsQuery(Array.from({ length: cfg.idsPerQuery }, draw))),
  );
  const results: RunResult[] = [];
  let capacity = 0;
  try {
    const start = (extra: Record<string, string>): SystemChild =>
      spawnChild({
        entry: 'test/bench/servers/junction.ts',
        env: {
          ...systemEnv('junction', simsInfo, { connections: 32, timeoutMs: 5000, rateLimit: 100_000 }),
          ...extra,
        },
        cpus: pinned ? cfg.sutCpus : undefined,
        label: 'junction',
      });
    const off = { LOAD_SHED_MAX_IN_FLIGHT: '0', LOAD_SHED_MAX_EVENT_LOOP_DELAY_MS: '0' };
    const on = {
      LOAD_SHED_MAX_IN_FLIGHT: String(cfg.maxInFlight),
      LOAD_SHED_MAX_EVENT_LOOP_DELAY_MS: String(cfg.maxEventLoopDelayMs),
      LOAD_SHED_SAMPLE_INTERVAL_MS: String(cfg.sampleIntervalMs),
    };
    // Capacity: closed loop, shedding off, enough connections to keep the core busy.
    {
      const child = start(off);
      try {
        const url = (await child.ready).url as string;
        await load(url, headers, bodies, cfg.warmupS, 50);
        const { byStatus, result } = await load(url, headers, bodies, cfg.durationS, 50);
        capacity = (byStatus.get(200)?.length ?? 0) / result.duration;
        log(`capacity (closed loop, 50 connections): ${capacity.toFixed(0)} req/s`);
      } finally {
        await child.stop();
      }
    }
    const offered = Math.round(capacity * cfg.overload);
    for (const [label, env] of [
      ['shedding off', off],
      [
        `shedding on (LOAD_SHED_MAX_IN_FLIGHT=${cfg.maxInFlight}, LOAD_SHED_MAX_EVENT_LOOP_DELAY_MS=${cfg.maxEventLoopDelayMs}, LOAD_SHED_SAMPLE_INTERVAL_MS=${cfg.sampleIntervalMs})`,
        on,
      ],
    ] as const) {
      const child = start(env);
      try {
        const url = (await child.ready).url as string;
        await load(url, headers, bodies, cfg.warmupS, 50);
        const ticks = [cpuTicks(child.pid), cpuTicks(process.pid)];
        const { byStatus, result } = await load(
          url,
          headers,
          bodies,
          cfg.durationS,
          cfg.connections,
          offered,
        );
        const junctionCpuPct = cpuPct(ticks[0], cpuTicks(child.pid), result.duration);
        const loadGeneratorCpuPct = cpuPct(ticks[1], cpuTicks(process.pid), result.duration);
        const ok = byStatus.get(200) ?? [];
        const shed = byStatus.get(503) ?? [];
        const other = [...byStatus.entries()]
          .filter(([s]) => s !== 200 && s !== 503)
          .reduce((n, [, l]) => n + l.length, 0);
        const r: RunResult = {
          label,
          offeredRps: offered,
          durationS: result.duration,
          accepted: { rps: ok.length / result.duration, ...stats(ok) },
          shed: { rps: shed.length / result.duration, p50: stats(shed).p50, p99: stats(shed).p99 },
          otherStatuses: other,
          errors: result.errors,
          timeouts: result.timeouts,
          junctionCpuPct,
          loadGeneratorCpuPct,
        };
        results.push(r);
        log(
          `${label}: offered ${offered}/s; accepted ${r.accepted.rps.toFixed(0)}/s p50 ${ms(r.accepted.p50)} p99 ${ms(r.accepted.p99)} max ${ms(r.accepted.max)} ms; shed ${r.shed.rps.toFixed(0)}/s p99 ${ms(r.shed.p99)} ms; timeouts ${r.timeouts}, errors ${r.errors}`,
        );
      } finally {
        await child.stop();
      }
    }
  } finally {
    await sims.stop();
  }
  const outDir = resolve(cfg.outDir);
  mkdirSync(outDir, { recursive: true });
  // Other processes on the machine take CPU from the runs: the load average says how much.
  const loadAverage = loadavg().map((l) => Number(l.toFixed(2)));
  const report = { capacityRps: capacity, loadAverage, config: cfg, results };
  writeFileSync(join(outDir, 'shed.json'), `${JSON.stringify(report, null, 2)}\n`);
  const md = [
    `S8 load shedding: Junction pinned to one core, capacity ${capacity.toFixed(0)} req/s (closed loop, 50 connections); offered ${results[0]?.offeredRps ?? 0} req/s open loop over ${cfg.connections} connections for ${cfg.durationS} s. Machine load average at the end (1, 5, 15 min): ${loadAverage.join(', ')} on ${cpus().length} CPUs.`,
    '',
    '| run | accepted req/s | accepted p50 / p95 / p99 / max (ms) | shed req/s | shed p99 (ms) | timeouts | CPU Junction / load generator |',
    '|---|---|---|---|---|---|---|',
    ...results.map(
      (r) =>
        `| ${r.label} | ${r.accepted.rps.toFixed(0)} | ${[r.accepted.p50, r.accepted.p95, r.accepted.p99, r.accepted.max].map(ms).join(' / ')} | ${r.shed.rps.toFixed(0)} | ${ms(r.shed.p99)} | ${r.timeouts} | ${pct(r.junctionCpuPct)} / ${pct(r.loadGeneratorCpuPct)} |`,
    ),
    '',
  ].join('\n');
  writeFileSync(join(outDir, 'shed.md'), md);
  process.stdout.write(md);
  clearTimeout(watchdog);
}

main().catch((error: unknown) => {
  log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  for (const child of liveChildren()) child.kill();
  process.exit(1);
});

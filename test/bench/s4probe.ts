// `npm run bench:s4probe`: where S4's time goes. One Junction (k = BENCH_S4_K's first value) on the
// simulators, Stripe's customer GET delayed by BENCH_S4_DELAY_MS; the S4 query (100 users' billing,
// no batch endpoint) sent one at a time with `x-junction-upstream-report: 1`, so each answer lists
// when each upstream call started and how long it took. Reports, per operation: the users call,
// the span of the 100 customer calls, their mean duration, the idle time of a concurrency slot
// between one call's end and the next one's start, and the tail after the last call. Also times
// the same fan-out straight through an undici Pool of k sockets from this process (no Junction),
// as the floor the simulators allow.
import { Pool } from 'undici';
import { seedUsers } from '../../src/simulators/users/seed.js';
import { pinSelf, spawnChild } from './lib/child.js';
import { clientToken } from './lib/clientToken.js';
import { loadBenchConfig } from './lib/config.js';
import { cpuTicks } from './lib/load.js';
import { body, fanOutQuery } from './lib/queries.js';
import { BENCH_JWT_SECRET, systemEnv } from './lib/systems.js';
import type { SimsInfo } from './sims.js';

const cfg = loadBenchConfig();
const k = cfg.s4K[0] ?? 10;
const runs = Number(process.env.BENCH_S4_RUNS ?? 20);
const log = (m: string) => process.stderr.write(`[s4probe] ${m}\n`);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
};

interface Call {
  provider: string;
  route: string;
  startMs: number;
  durationMs: number;
}

async function main(): Promise<void> {
  if (!Number.isInteger(runs) || runs < 1 || runs > 200) throw new Error('BENCH_S4_RUNS: 1..200');
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
        connections: k,
        timeoutMs: cfg.upstreamTimeoutMs,
        rateLimit: cfg.junctionRateLimit,
      }),
      cpus: cfg.pin ? cfg.sutCpus : undefined,
      label: 'junction',
    });
    try {
      const url = `${(await junction.ready).url as string}/graphql`;
      await junction.request('setCold', { on: true });
      await sims.request('faults', {
        rules: { stripe: [{ match: { route: 'GET /v1/customers/:id' }, latencyMs: cfg.s4DelayMs }] },
      });
      const token = await clientToken(BENCH_JWT_SECRET, { sub: 'usr_0001', admin: true, ttlSeconds: 3600 });
      const { operation, customers } = fanOutQuery(cfg.s4Ids);
      const payload = body(operation);
      const rows: Array<Record<string, number>> = [];
      let ticks0: number | undefined;
      for (let i = 0; i < runs + 3; i++) {
        if (i === 3) ticks0 = cpuTicks(junction.pid);
        const t0 = performance.now();
        const res = await fetch(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            authorization: `Bearer ${token}`,
            'x-junction-upstream-report': '1',
          },
          body: payload,
        });
        const json = (await res.json()) as {
          errors?: unknown;
          extensions?: {
            upstream?: { calls: Call[]; providers?: Record<string, { throttleWaitMs?: number }> };
          };
        };
        const totalMs = performance.now() - t0;
        if (i < 3) continue; // warm-up
        const calls = json.extensions?.upstream?.calls ?? [];
        const usersCall = calls.find((c) => c.provider === 'users');
        const stripe = calls
          .filter((c) => c.route.includes('customers'))
          .sort((a, b) => a.startMs - b.startMs);
        if (stripe.length === 0)
          throw new Error(`no customer calls in the report: ${JSON.stringify(json).slice(0, 300)}`);
        const first = stripe[0]?.startMs as number;
        const lastEnd = Math.max(...stripe.map((c) => c.startMs + c.durationMs));
        const meanDur = stripe.reduce((s, c) => s + c.durationMs, 0) / stripe.length;
        const rounds = Math.ceil(stripe.length / k);
        // Call i + k takes the slot call i freed: the idle time between them.
        const idle: number[] = [];
        const ends = stripe.map((c) => c.startMs + c.durationMs).sort((a, b) => a - b);
        for (let j = k; j < stripe.length; j++)
          idle.push((stripe[j]?.startMs as number) - (ends[j - k] as number));
        rows.push({
          totalMs,
          usersEndMs: usersCall ? usersCall.startMs + usersCall.durationMs : Number.NaN,
          firstCustomerStartMs: first,
          customerSpanMs: lastEnd - first,
          meanCustomerMs: meanDur,
          perRoundMs: (lastEnd - first) / rounds,
          slotIdleMs: idle.length ? idle.reduce((s, x) => s + x, 0) / idle.length : 0,
          tailMs: totalMs - lastEnd,
          calls: stripe.length,
          stripeThrottleWaitMs: json.extensions?.upstream?.providers?.stripe?.throttleWaitMs ?? 0,
        });
      }
      const ticks1 = cpuTicks(junction.pid);
      const cpuMsPerOp =
        ticks0 !== undefined && ticks1 !== undefined ? ((ticks1 - ticks0) * 10) / runs : Number.NaN;
      const keys = Object.keys(rows[0] ?? {});
      const med = Object.fromEntries(
        keys.map((key) => [key, Math.round(median(rows.map((r) => r[key] as number)) * 10) / 10]),
      );
      log(
        `Junction k=${k}, ${customers} customers, delay ${cfg.s4DelayMs} ms, ideal ${Math.ceil(customers / k) * cfg.s4DelayMs} ms; medians over ${runs}:`,
      );
      process.stdout.write(`${JSON.stringify({ junction: { ...med, cpuMsPerOp } }, null, 2)}\n`);
    } finally {
      await junction.stop();
    }
    // B3 (DataLoader + undici) on the same query, at the same moment: wall and CPU per operation.
    const b3 = spawnChild({
      entry: 'test/bench/baselines/dataloader.ts',
      env: systemEnv('dataloader', info, {
        connections: k,
        timeoutMs: cfg.upstreamTimeoutMs,
        rateLimit: cfg.junctionRateLimit,
      }),
      cpus: cfg.pin ? cfg.sutCpus : undefined,
      label: 'dataloader',
    });
    try {
      const url = `${(await b3.ready).url as string}/graphql`;
      const token = await clientToken(BENCH_JWT_SECRET, { sub: 'usr_0001', admin: true, ttlSeconds: 3600 });
      const payload = body(fanOutQuery(cfg.s4Ids).operation);
      const times: number[] = [];
      let ticks0: number | undefined;
      for (let i = 0; i < runs + 3; i++) {
        if (i === 3) ticks0 = cpuTicks(b3.pid);
        const t0 = performance.now();
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: payload,
        });
        await res.json();
        if (i >= 3) times.push(performance.now() - t0);
      }
      const ticks1 = cpuTicks(b3.pid);
      const cpuMsPerOp =
        ticks0 !== undefined && ticks1 !== undefined ? ((ticks1 - ticks0) * 10) / runs : Number.NaN;
      process.stdout.write(
        `${JSON.stringify({ dataloader: { totalMs: Math.round(median(times) * 10) / 10, cpuMsPerOp } })}\n`,
      );
    } finally {
      await b3.stop();
    }
    // The floor: the same 100 GETs through one undici Pool of k sockets, from here.
    const pool = new Pool(info.stripe.url, { connections: k, pipelining: 1 });
    const cus = seedUsers(1000)
      .map((u) => u.stripe_customer_id)
      .filter((c): c is string => typeof c === 'string' && c.length > 0)
      .slice(0, cfg.s4Ids);
    if (cus.length > 0) {
      const times: number[] = [];
      for (let i = 0; i < runs + 3; i++) {
        const t0 = performance.now();
        await Promise.all(
          cus.map(async (c) => {
            const r = await pool.request({
              path: `/v1/customers/${c}`,
              method: 'GET',
              headers: { authorization: `Bearer ${info.stripe.secretKey}` },
            });
            await r.body.text();
          }),
        );
        if (i >= 3) times.push(performance.now() - t0);
      }
      process.stdout.write(
        `${JSON.stringify({ undiciPoolFloor: { customers: cus.length, medianMs: Math.round(median(times) * 10) / 10 } })}\n`,
      );
    }
    await pool.close();
  } finally {
    await sims.stop();
  }
}

main().catch((error: unknown) => {
  log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exit(1);
});

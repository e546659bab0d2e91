// `npm run bench`: Junction against five baselines on the same loopback simulators, scenarios S1-S6
// plus a CPU profile of Junction under saturation. Writes test/bench/results/latest.{json,md} and the
// README's Performance section. Every load is bounded in time and aimed at 127.0.0.1 only.
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { FaultRule } from '../../src/simulators/shared/faults.js';
import {
  type Child,
  liveChildren,
  pinSelf,
  type SystemChild,
  spawnChild,
  tasksetAvailable,
} from './lib/child.js';
import { clientToken } from './lib/clientToken.js';
import { type BenchConfig, loadBenchConfig, type SystemId } from './lib/config.js';
import { type LoadResult, runLoad } from './lib/load.js';
import { machineInfo } from './lib/machine.js';
import { summarizeProfile } from './lib/profile.js';
import {
  body,
  byIdsQuery,
  fanOutQuery,
  floorCalls,
  listQuery,
  NAMES_AND_BILLING,
  type Operation,
  prng,
  silentlyWrong,
  USER_IDS,
  zipf,
} from './lib/queries.js';
import { type BenchResults, evaluateTargets, renderMarkdown, updateReadme } from './lib/report.js';
import { BENCH_JWT_SECRET, type EnvKnobs, SYSTEMS, systemEnv } from './lib/systems.js';
import type { Counts, ProviderName, SimsInfo } from './sims.js';

const cfg = loadBenchConfig();
const startedAt = Date.now();
const log = (message: string) => {
  const t = ((Date.now() - startedAt) / 1000).toFixed(0).padStart(4);
  process.stderr.write(`[bench ${t}s] ${message}\n`);
};

const results: BenchResults = {
  machine: machineInfo('pending'),
  config: {
    durationS: cfg.durationS,
    warmupS: cfg.warmupS,
    upstreamConnections: cfg.upstreamConnections,
    upstreamTimeoutMs: cfg.upstreamTimeoutMs,
    junctionRateLimitPerSecond: cfg.junctionRateLimit,
    zipfExponent: cfg.zipfExponent,
    s1DelaysMs: cfg.s1DelaysMs,
    s2: { queries: cfg.s2Queries, idsPerQuery: cfg.s2IdsPerQuery },
    s3: { connections: cfg.s3Connections, idsPerQuery: cfg.s3IdsPerQuery, warmupS: cfg.s3WarmupS },
    s4: { k: cfg.s4K, delayMs: cfg.s4DelayMs, ids: cfg.s4Ids },
    s5: {
      connections: cfg.s5Connections,
      hangWarmupS: cfg.s5HangWarmupS,
      hangDurationS: cfg.s5HangDurationS,
    },
  },
  systems: cfg.systems.map((id) => ({
    id,
    label: SYSTEMS[id].label,
    short: SYSTEMS[id].short,
    description: SYSTEMS[id].description,
    status: 'ok' as const,
  })),
  s1: {},
  s2: {},
  s3: {},
  s4: {},
  s5: {},
  notes: [],
  targets: [],
};

const has = (scenario: BenchConfig['scenarios'][number]) => cfg.scenarios.includes(scenario);

// ---- simulators and helpers ------------------------------------------------------------------

let sims: Child;
let simsInfo: SimsInfo;
let headers: Record<string, string>;

async function setFaults(rules: Partial<Record<ProviderName, FaultRule[]>>): Promise<void> {
  await sims.request('faults', { rules });
}

/** Upstream calls since the last reset, OAuth token requests left out (every system caches the token). */
function dataCalls(counts: Counts): { total: number; byRoute: Record<string, number> } {
  const byRoute: Record<string, number> = {};
  let total = 0;
  for (const provider of Object.values(counts)) {
    for (const [route, n] of Object.entries(provider.byRoute)) {
      if (route === 'POST /oauth/token') continue;
      byRoute[route] = (byRoute[route] ?? 0) + n;
      total += n;
    }
  }
  return { total, byRoute };
}

async function gql(url: string, operation: Operation): Promise<{ status: number; json: any }> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: body(operation),
    signal: AbortSignal.timeout(30_000),
  });
  return { status: res.status, json: await res.json() };
}

function startSystem(
  id: SystemId,
  knobs: Partial<EnvKnobs> = {},
  nodeArgs: string[] = [],
  stdoutFile?: string,
): SystemChild {
  const env = systemEnv(id, simsInfo, {
    connections: cfg.upstreamConnections,
    timeoutMs: cfg.upstreamTimeoutMs,
    rateLimit: cfg.junctionRateLimit,
    otel: cfg.otel,
    ...knobs,
  });
  const launch = SYSTEMS[id].launch;
  if (launch) {
    return launch({ env, cpus: cfg.pin ? cfg.sutCpus : undefined, label: id, runBudgetS: cfg.maxTotalS });
  }
  return spawnChild({
    entry: SYSTEMS[id].entry,
    env,
    cpus: cfg.pin ? cfg.sutCpus : undefined,
    nodeArgs,
    stdoutFile,
    label: id,
  });
}

async function ready(child: SystemChild): Promise<string> {
  const info = await child.ready;
  return info.url as string;
}

function load(url: string, child: SystemChild, connections: number, bodies: string[], durationS: number) {
  return runLoad({
    url,
    connections,
    durationS,
    headers,
    bodies,
    watchPid: child.pid,
    alsoWatch: { simulators: sims.pid },
  });
}

/** Zipf-distributed byIds bodies, seeded: every system gets the very same sequence. */
function zipfBodies(count: number, idsPerQuery: number, seed: number): { bodies: string[]; ids: string[][] } {
  const draw = zipf(cfg.zipfExponent, seed);
  const ids = Array.from({ length: count }, () => Array.from({ length: idsPerQuery }, draw));
  return { bodies: ids.map((set) => body(byIdsQuery(set))), ids };
}

function uniformBodies(count: number, seed: number, make: (id: string) => Operation): string[] {
  const random = prng(seed);
  return Array.from({ length: count }, () =>
    body(make(USER_IDS[Math.floor(random() * USER_IDS.length)] as string)),
  );
}

// ---- scenarios ---------------------------------------------------------------------------------

async function s1(id: SystemId, child: SystemChild, url: string): Promise<void> {
  // One user with name, billing and payments: users call, then billing and payments in parallel.
  const bodies = uniformBodies(2000, 11, (uid) => byIdsQuery([uid]));
  await child.request('setCold', { on: true });
  for (const delay of cfg.s1DelaysMs) {
    await setFaults(delay > 0 ? { users: [{ latencyMs: delay }], stripe: [{ latencyMs: delay }] } : {});
    if (cfg.warmupS > 0) await load(url, child, 1, bodies, cfg.warmupS);
    const r = await load(url, child, 1, bodies, cfg.durationS);
    const criticalPathMs = 2 * delay;
    results.s1[String(delay)] ??= { delayMs: delay, criticalPathMs, bySystem: {} };
    const entry = results.s1[String(delay)]!;
    entry.bySystem[id] = {
      ...r,
      overheadP50: r.p50 - criticalPathMs,
      overheadP95: r.p95 - criticalPathMs,
    };
    log(`S1 ${id} delay ${delay} ms: p50 ${r.p50.toFixed(2)} p95 ${r.p95.toFixed(2)} ms (${r.requests} req)`);
  }
  await setFaults({});
  await child.request('setCold', { on: false });
}

async function s2(id: SystemId, child: SystemChild, url: string): Promise<void> {
  await setFaults({});
  await child.request('setCold', { on: false });
  const cold = zipfBodies(cfg.s2Queries, cfg.s2IdsPerQuery, 21);
  let coldCalls = 0;
  let floor = 0;
  let atFloor = 0;
  let errors = 0;
  let wrong = 0;
  const coldRoutes: Record<string, number> = {};
  for (let i = 0; i < cold.ids.length; i++) {
    const ids = cold.ids[i] as string[];
    await child.request('clearCache');
    await sims.request('reset', { keep: true });
    const res = await gql(url, byIdsQuery(ids));
    if (res.status !== 200 || res.json.errors) errors += 1;
    if (silentlyWrong(ids, res)) wrong += 1;
    const calls = dataCalls(await sims.request<Counts>('counts', { reset: true }));
    const f = floorCalls(ids);
    coldCalls += calls.total;
    floor += f;
    if (calls.total === f) atFloor += 1;
    for (const [route, n] of Object.entries(calls.byRoute)) coldRoutes[route] = (coldRoutes[route] ?? 0) + n;
  }
  // Warm: a first pass fills whatever cache the system has, a second pass (new draws from the same
  // distribution) is counted.
  await child.request('clearCache');
  await sims.request('reset', { keep: false });
  const warmup = zipfBodies(cfg.s2Queries, cfg.s2IdsPerQuery, 22);
  for (const ids of warmup.ids) await gql(url, byIdsQuery(ids));
  const warm = zipfBodies(cfg.s2Queries, cfg.s2IdsPerQuery, 23);
  await sims.request('reset', { keep: true });
  let warmErrors = 0;
  let warmWrong = 0;
  let warmFloor = 0;
  for (const ids of warm.ids) {
    const res = await gql(url, byIdsQuery(ids));
    if (res.status !== 200 || res.json.errors) warmErrors += 1;
    if (silentlyWrong(ids, res)) warmWrong += 1;
    warmFloor += floorCalls(ids);
  }
  const warmCalls = dataCalls(await sims.request<Counts>('counts', { reset: true }));
  await sims.request('reset', { keep: false });
  const n = cfg.s2Queries;
  results.s2[id] = {
    queries: n,
    floorPerQuery: floor / n,
    coldPerQuery: coldCalls / n,
    coldVsFloor: coldCalls / floor,
    queriesAtFloor: atFloor,
    coldByRoute: coldRoutes,
    coldErrors: errors,
    coldWrong: wrong,
    warmFloorPerQuery: warmFloor / n,
    warmPerQuery: warmCalls.total / n,
    warmByRoute: warmCalls.byRoute,
    warmErrors,
    warmWrong,
  };
  log(
    `S2 ${id}: cold ${(coldCalls / n).toFixed(2)} calls/query (floor ${(floor / n).toFixed(2)}), warm ${(warmCalls.total / n).toFixed(2)}; ${errors + warmErrors} answers with errors, ${wrong + warmWrong} with a wrong user`,
  );
}

async function s3(
  id: SystemId,
  child: SystemChild,
  url: string,
): Promise<LoadResult & { sampleErrors: number }> {
  await setFaults({});
  await child.request('setCold', { on: false });
  await child.request('clearCache');
  const { bodies, ids } = zipfBodies(5000, cfg.s3IdsPerQuery, 31);
  // A few responses checked first: a fast answer full of errors would be no result.
  let sampleErrors = 0;
  for (const set of ids.slice(0, 20)) {
    const res = await gql(url, byIdsQuery(set));
    if (res.status !== 200 || res.json.errors || silentlyWrong(set, res)) sampleErrors += 1;
  }
  await child.request('clearCache');
  if (cfg.s3WarmupS > 0) await load(url, child, cfg.s3Connections, bodies, cfg.s3WarmupS);
  if (cfg.otel) await sims.request('otlpExports'); // counts from here on
  const r = { ...(await load(url, child, cfg.s3Connections, bodies, cfg.durationS)), sampleErrors };
  log(
    `S3 ${id}: ${r.rps.toFixed(0)} req/s, p95 ${r.p95.toFixed(1)} ms, RSS ${r.peakRssMiB?.toFixed(0)} MiB, cpu ${r.cpuPct?.toFixed(0)}%, sims cpu ${r.otherCpuPct?.simulators?.toFixed(0)}%`,
  );
  if (cfg.otel && id === 'junction') {
    const got = await sims.request<{ requests: number; bytes: number }>('otlpExports');
    log(
      `S3 ${id}: tracing on, ${got.requests} OTLP exports (${(got.bytes / 1e6).toFixed(1)} MB) while measured`,
    );
  }
  return r;
}

async function s4(id: SystemId): Promise<void> {
  const { operation, customers } = fanOutQuery(cfg.s4Ids);
  for (const k of cfg.s4K) {
    const child = startSystem(id, { connections: k });
    try {
      const url = await ready(child);
      await child.request('setCold', { on: true });
      await setFaults({ stripe: [{ match: { route: 'GET /v1/customers/:id' }, latencyMs: cfg.s4DelayMs }] });
      const bodies = [body(operation)];
      if (cfg.warmupS > 0) await load(url, child, 1, bodies, Math.min(cfg.warmupS, 2));
      const r = await load(url, child, 1, bodies, cfg.durationS);
      const idealMs = Math.ceil(customers / k) * cfg.s4DelayMs;
      results.s4[String(k)] ??= { k, idealMs, customers, bySystem: {} };
      const entry = results.s4[String(k)]!;
      entry.bySystem[id] = { ...r, vsIdeal: r.p50 / idealMs };
      log(`S4 ${id} k=${k}: p50 ${r.p50.toFixed(1)} ms (ideal ${idealMs} ms)`);
    } finally {
      await setFaults({});
      await child.stop();
    }
  }
}

async function s5(id: SystemId): Promise<void> {
  // Each outage starts in a fresh process: no breaker window, cache or sockets left over from the
  // other scenarios. Stripe is down from the start (a healthy warm-up would fill Junction's
  // customer cache, and then this would measure the cache, not the failure path). A hanging
  // provider answers nothing: the measured window must outlast the slowest way out (the per-call
  // timeout, or Junction's operation deadline), or no response would complete in it.
  const modes: Array<{ mode: string; rule: FaultRule; warmupS: number; durationS: number }> = [
    { mode: '503', rule: { status: 503 }, warmupS: cfg.warmupS, durationS: cfg.durationS },
    {
      mode: 'hang',
      rule: { hang: true },
      warmupS: cfg.s5HangWarmupS,
      durationS: Math.max(cfg.durationS, cfg.s5HangDurationS),
    },
  ];
  const bodies = [body(NAMES_AND_BILLING)];
  for (const { mode, rule, warmupS, durationS } of modes) {
    const child = startSystem(id);
    try {
      const url = await ready(child);
      await gql(url, listQuery(1, 'id')); // the OAuth token and sockets, users service only
      await setFaults({ stripe: [rule] });
      if (warmupS > 0) await load(url, child, cfg.s5Connections, bodies, warmupS);
      // One response checked while the measured load runs: the names must be there, billing null.
      const [r, sample] = await Promise.all([
        load(url, child, cfg.s5Connections, bodies, durationS),
        gql(url, NAMES_AND_BILLING).catch((error: Error) => ({ status: 0, json: { error: error.message } })),
      ]);
      const nodes: any[] = sample.json?.data?.users?.nodes ?? [];
      const codes = new Set<string>(
        (Array.isArray(sample.json?.errors) ? sample.json.errors : []).map(
          (e: any) => e?.extensions?.code ?? 'none',
        ),
      );
      results.s5[mode] ??= { mode, durationS, bySystem: {} };
      const entry = results.s5[mode]!;
      entry.bySystem[id] = {
        ...r,
        sampleNames: nodes.filter((u) => typeof u?.name === 'string' && u.name.length > 0).length,
        sampleBillingNull: nodes.filter((u) => u?.billing === null).length,
        sampleErrorCodes: [...codes],
      };
      log(
        `S5 ${id} stripe ${mode}: p99 ${r.p99.toFixed(1)} ms, ${r.rps.toFixed(0)} req/s, sample names ${entry.bySystem[id]?.sampleNames}/10 codes ${[...codes].join(',')}`,
      );
    } finally {
      await setFaults({});
      await child.stop();
    }
  }
}

async function s6(): Promise<void> {
  const { bodies } = zipfBodies(5000, cfg.s3IdsPerQuery, 31);
  const out: Record<string, LoadResult> = {};
  const logFile = cfg.logTarget === 'file' ? '/tmp/junction-bench-info.log' : undefined;
  if (logFile) rmSync(logFile, { force: true });
  for (const level of ['silent', 'info']) {
    const child = startSystem('junction', { logLevel: level }, [], level === 'info' ? logFile : undefined);
    try {
      const url = await ready(child);
      await setFaults({});
      if (cfg.s3WarmupS > 0) await load(url, child, cfg.s3Connections, bodies, cfg.s3WarmupS);
      out[level] = await load(url, child, cfg.s3Connections, bodies, cfg.durationS);
      log(`S6 LOG_LEVEL=${level}: ${out[level]?.rps.toFixed(0)} req/s`);
    } finally {
      await child.stop();
    }
  }
  const silent = out.silent as LoadResult;
  const info = out.info as LoadResult;
  let logBytes: number | undefined;
  try {
    if (logFile) logBytes = statSync(logFile).size;
  } catch {
    logBytes = undefined;
  }
  results.s6 = {
    target: logFile ?? '/dev/null',
    silent,
    info,
    lostPct: (1 - info.rps / silent.rps) * 100,
    logBytesPerRequest: logBytes === undefined ? undefined : logBytes / Math.max(1, info.requests),
  };
}

async function profile(): Promise<void> {
  rmSync(cfg.profileDir, { recursive: true, force: true });
  mkdirSync(cfg.profileDir, { recursive: true });
  const child = startSystem('junction', {}, ['--cpu-prof', `--cpu-prof-dir=${cfg.profileDir}`]);
  let window: { fromUs: number; toUs: number } | undefined;
  let profiledRps: number | undefined;
  try {
    const url = await ready(child);
    await setFaults({});
    const { bodies } = zipfBodies(5000, cfg.s3IdsPerQuery, 31);
    if (cfg.s3WarmupS > 0) await load(url, child, cfg.s3Connections, bodies, cfg.s3WarmupS);
    const fromUs = Number(process.hrtime.bigint() / 1000n);
    const r = await load(url, child, cfg.s3Connections, bodies, cfg.durationS);
    window = { fromUs, toUs: Number(process.hrtime.bigint() / 1000n) };
    profiledRps = r.rps;
    log(`profile run: ${r.rps.toFixed(0)} req/s under --cpu-prof`);
  } finally {
    await child.stop();
  }
  const file = readdirSync(cfg.profileDir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) {
    results.notes.push('Profiling: no .cpuprofile was written.');
    return;
  }
  const path = join(cfg.profileDir, file);
  results.profile = { file: path, rps: profiledRps, ...summarizeProfile(path, window) };
  log(`profile: ${path}`);
}

// ---- main --------------------------------------------------------------------------------------

async function runSystem(id: SystemId): Promise<void> {
  const entry = results.systems.find((s) => s.id === id);
  const child = startSystem(id);
  try {
    const url = await ready(child);
    log(`${id} ready at ${url} (pid ${child.pid}${child.pinned ? `, cpus ${cfg.sutCpus}` : ''})`);
    // First call fetches the OAuth token and opens sockets; not measured.
    await gql(url, listQuery(1));
    if (has('s1')) await s1(id, child, url);
    if (has('s2')) await s2(id, child, url);
    if (has('s3')) results.s3[id] = await s3(id, child, url);
  } catch (error) {
    if (entry) {
      entry.status = 'failed';
      entry.error = error instanceof Error ? error.message : String(error);
    }
    log(`${id} FAILED: ${error instanceof Error ? error.message : String(error)}`);
    const stats = await child.request<Record<string, unknown>>('stats').catch(() => undefined);
    const rejections = Number(stats?.unhandledRejections ?? 0);
    if (rejections > 0) {
      results.notes.push(
        `${SYSTEMS[id].label}: ${rejections} unhandled promise rejections during S1-S3 (last: ${String(stats?.lastRejection)}); its process logs and survives them (Node would otherwise exit).`,
      );
    }
  } finally {
    await setFaults({}).catch(() => undefined);
    await child.stop();
  }
  for (const [scenario, run] of [
    ['s4', s4],
    ['s5', s5],
  ] as const) {
    if (!has(scenario) || entry?.status !== 'ok') continue;
    try {
      await run(id);
    } catch (error) {
      results.notes.push(
        `${scenario.toUpperCase()} ${id} failed: ${error instanceof Error ? error.message : String(error)}`,
      );
      log(`${scenario.toUpperCase()} ${id} FAILED: ${String(error)}`);
    }
  }
}

/** Re-renders latest.md and the README block from latest.json (no load is run). */
function reportOnly(): void {
  const outDir = resolve(cfg.outDir);
  const saved = JSON.parse(readFileSync(join(outDir, 'latest.json'), 'utf8')) as BenchResults;
  saved.targets = evaluateTargets(saved);
  writeFileSync(join(outDir, 'latest.json'), `${JSON.stringify(saved, null, 2)}\n`);
  writeFileSync(join(outDir, 'latest.md'), renderMarkdown(saved));
  if (cfg.updateReadme) updateReadme(resolve('README.md'), saved);
  log(`re-rendered ${join(cfg.outDir, 'latest.md')} from latest.json`);
}

async function main(): Promise<void> {
  if (process.env.BENCH_REPORT_ONLY === '1') {
    reportOnly();
    return;
  }
  const watchdog = setTimeout(() => {
    log(`watchdog: the run exceeded BENCH_MAX_TOTAL_S=${cfg.maxTotalS}; stopping`);
    for (const child of liveChildren()) child.kill();
    process.exit(2);
  }, cfg.maxTotalS * 1000);
  watchdog.unref();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      for (const child of liveChildren()) child.kill();
      process.exit(130);
    });
  }

  const selfPinned = cfg.pin && pinSelf(cfg.loadCpus);
  const pinning = !cfg.pin
    ? 'off (BENCH_PIN=0)'
    : tasksetAvailable() && selfPinned
      ? `taskset: system under test on CPU ${cfg.sutCpus}; load generator and simulators on CPU ${cfg.loadCpus}`
      : 'not pinned (taskset missing or fewer than 2 CPUs)';
  results.machine = machineInfo(pinning);
  log(`machine: ${results.machine.cpuModel}, ${results.machine.cores} cores, ${pinning}`);
  if (cfg.otel)
    results.notes.push(
      'BENCH_OTEL=1: Junction ran with OpenTelemetry tracing on, exporting OTLP to a discard receiver.',
    );

  sims = spawnChild({
    entry: 'test/bench/sims.ts',
    env: {},
    cpus: cfg.pin ? cfg.loadCpus : undefined,
    label: 'sims',
  });
  simsInfo = ((await sims.ready) as { info: SimsInfo }).info;
  const token = await clientToken(BENCH_JWT_SECRET, { sub: 'usr_0001', admin: true, ttlSeconds: 3600 });
  headers = { authorization: `Bearer ${token}` };

  try {
    for (const id of cfg.systems) await runSystem(id);
    if (has('s6')) await s6();
    if (has('profile')) await profile();
  } finally {
    await sims.stop();
  }

  results.targets = evaluateTargets(results);
  results.notes.push(
    `Junction ran with every *_RATE_LIMIT_PER_SECOND at ${cfg.junctionRateLimit} (the defaults, e.g. STRIPE 90/s, would throttle a load test: the simulators have no such limits and the baselines enforce none).`,
    `Every system got UPSTREAM_CONNECTIONS=${cfg.upstreamConnections} sockets per upstream origin (S4: k) and a ${cfg.upstreamTimeoutMs} ms per-call timeout; Junction also its UPSTREAM_CONCURRENCY=k.`,
    'S1 and S4 run every system "cold": Junction\'s shared cache is emptied before each request (a bench-only hook), so every request pays its upstream calls; S2 warm, S3, S5 and S6 use the cache as designed.',
  );
  if (cfg.systems.includes('tailcall')) {
    results.notes.push(
      'B5 Tailcall keeps its `@cache` in its process with no way to empty it: "cache emptied" (S2 cold, before S3) restarts the process on the same port (~50 ms, outside every measurement), and its cold runs (S1, S4) use the same config without `@cache`.',
      'B5 Tailcall caps idle upstream sockets only (`poolMaxIdlePerHost` = k); open ones are not capped, so the ⌈100/k⌉ × 20 ms ideal of S4 does not bind it.',
      "B5 Tailcall collects a users batch for a time window (`@upstream(batch: { delay })`, at least 1 ms), not until the end of the tick as the DataLoader-based systems do: on a busy machine one query's users can fall into two windows, and S2 cold then shows a second users call.",
      "B5 Tailcall 1.0.0 answers `data: null` for the whole operation when any upstream call in it fails (no partial data): see S5's sample row.",
      "B5 Tailcall 1.0.0 now and then answers one user of a batched query with another user's record, without an error (seen with and without its JS hooks, `dedupe` and `@call`; which ids mix up changes from one process start to the next): S2 counts such answers.",
      'Every system got the same client JWT, with a `kid` in its header: Tailcall 1.0.0 rejects tokens without one.',
    );
  }
  const outDir = resolve(cfg.outDir);
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
  const md = renderMarkdown(results);
  writeFileSync(join(outDir, 'latest.md'), md);
  if (cfg.updateReadme) updateReadme(resolve('README.md'), results);
  log(
    `wrote ${join(cfg.outDir, 'latest.json')} and latest.md in ${((Date.now() - startedAt) / 1000).toFixed(0)} s`,
  );
  for (const t of results.targets) log(`target ${t.id}: ${t.met ? 'MET' : 'MISSED'} — ${t.detail}`);
  clearTimeout(watchdog);
}

main().catch((error: unknown) => {
  log(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  for (const child of liveChildren()) child.kill();
  process.exit(1);
});

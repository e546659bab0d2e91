// Bench knobs, all from the environment so `npm run bench` needs no arguments. Every load is
// bounded in time (durations below) and aimed at 127.0.0.1 only.

function num(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name}: expected a number >= 0, got ${raw}`);
  return value;
}

function list(name: string, fallback: number[]): number[] {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  return raw.split(',').map((part) => {
    const value = Number(part.trim());
    if (!Number.isFinite(value) || value < 0) throw new Error(`${name}: expected numbers, got ${raw}`);
    return value;
  });
}

function words(name: string): string[] | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  return raw.split(',').map((w) => w.trim().toLowerCase());
}

export const SYSTEM_IDS = ['junction', 'naive', 'datasource-rest', 'dataloader', 'hive', 'tailcall'] as const;
export type SystemId = (typeof SYSTEM_IDS)[number];
export const SCENARIO_IDS = ['s1', 's2', 's3', 's4', 's5', 's6', 'profile'] as const;
export type ScenarioId = (typeof SCENARIO_IDS)[number];

export interface BenchConfig {
  /** Measured seconds of each timed load run. */
  durationS: number;
  /** Unmeasured seconds before a timed run (fills caches, opens connections, lets the JIT settle). */
  warmupS: number;
  s1DelaysMs: number[];
  s2Queries: number;
  s2IdsPerQuery: number;
  zipfExponent: number;
  s3Connections: number;
  /** Warm-up of the saturation runs (S3, S6, profile): long enough for Junction's cache to settle. */
  s3WarmupS: number;
  s3IdsPerQuery: number;
  s4K: number[];
  s4DelayMs: number;
  s4Ids: number;
  s5Connections: number;
  s5HangWarmupS: number;
  /** Measured seconds of the hang run (at least the operation deadline, so slow answers complete). */
  s5HangDurationS: number;
  /** Sockets per upstream origin for every system (Junction's UPSTREAM_CONNECTIONS default). */
  upstreamConnections: number;
  /** Per-upstream-call timeout every system gets (Junction's UPSTREAM_TIMEOUT_MS default). */
  upstreamTimeoutMs: number;
  /** Rate limits given to Junction so its per-provider limiter does not throttle a load test. */
  junctionRateLimit: number;
  systems: SystemId[];
  scenarios: ScenarioId[];
  pin: boolean;
  sutCpus: string;
  loadCpus: string;
  outDir: string;
  profileDir: string;
  /** Hard stop for the whole run, in seconds. */
  maxTotalS: number;
  updateReadme: boolean;
  logTarget: 'file' | 'devnull';
  /** BENCH_OTEL=1: Junction runs with tracing on, exporting to a discard OTLP receiver. */
  otel: boolean;
}

export function loadBenchConfig(): BenchConfig {
  const systems = words('BENCH_SYSTEMS') ?? [...SYSTEM_IDS];
  for (const s of systems) {
    if (!(SYSTEM_IDS as readonly string[]).includes(s))
      throw new Error(`BENCH_SYSTEMS: unknown system ${s}; known: ${SYSTEM_IDS.join(', ')}`);
  }
  if (!systems.includes('junction')) systems.unshift('junction');
  const scenarios = words('BENCH_SCENARIOS') ?? [...SCENARIO_IDS];
  for (const s of scenarios) {
    if (!(SCENARIO_IDS as readonly string[]).includes(s))
      throw new Error(`BENCH_SCENARIOS: unknown scenario ${s}; known: ${SCENARIO_IDS.join(', ')}`);
  }
  const logTarget = process.env.BENCH_LOG_TARGET === 'devnull' ? 'devnull' : 'file';
  return {
    durationS: num('BENCH_DURATION_S', 5),
    warmupS: num('BENCH_WARMUP_S', 2),
    s1DelaysMs: list('BENCH_S1_DELAYS_MS', [0, 10, 50]),
    s2Queries: num('BENCH_S2_QUERIES', 100),
    s2IdsPerQuery: num('BENCH_S2_IDS', 20),
    zipfExponent: num('BENCH_ZIPF_S', 1.1),
    s3Connections: num('BENCH_S3_CONNECTIONS', 50),
    s3WarmupS: num('BENCH_S3_WARMUP_S', 5),
    s3IdsPerQuery: num('BENCH_S3_IDS', 5),
    s4K: list('BENCH_S4_K', [10, 32]),
    s4DelayMs: num('BENCH_S4_DELAY_MS', 20),
    s4Ids: 100,
    // Closed loop below saturation, so latency shows the failure path rather than a queue.
    s5Connections: num('BENCH_S5_CONNECTIONS', 2),
    s5HangWarmupS: num('BENCH_S5_HANG_WARMUP_S', 6),
    s5HangDurationS: num('BENCH_S5_HANG_DURATION_S', 12),
    upstreamConnections: num('BENCH_UPSTREAM_CONNECTIONS', 32),
    upstreamTimeoutMs: num('BENCH_UPSTREAM_TIMEOUT_MS', 5000),
    junctionRateLimit: num('BENCH_RATE_LIMIT_PER_SECOND', 100_000),
    systems: systems as SystemId[],
    scenarios: scenarios as ScenarioId[],
    pin: process.env.BENCH_PIN !== '0',
    sutCpus: process.env.BENCH_SUT_CPUS ?? '1',
    loadCpus: process.env.BENCH_LOAD_CPUS ?? '0',
    outDir: process.env.BENCH_OUT_DIR ?? 'test/bench/results',
    profileDir: process.env.BENCH_PROFILE_DIR ?? '/tmp/junction-bench-profile',
    maxTotalS: num('BENCH_MAX_TOTAL_S', 900),
    updateReadme: process.env.BENCH_UPDATE_README !== '0',
    logTarget,
    otel: process.env.BENCH_OTEL === '1',
  };
}

// Results model, the targets, and the markdown written to test/bench/results/latest.md and README.md.
import { readFileSync, writeFileSync } from 'node:fs';
import type { SystemId } from './config.js';
import type { LoadResult } from './load.js';
import type { MachineInfo } from './machine.js';
import type { ProfileSummary } from './profile.js';

export interface S2Result {
  queries: number;
  floorPerQuery: number;
  coldPerQuery: number;
  coldVsFloor: number;
  queriesAtFloor: number;
  coldByRoute: Record<string, number>;
  coldErrors: number;
  /** Cold queries answered without an error but with a user other than the one asked (or none). */
  coldWrong?: number;
  warmFloorPerQuery: number;
  warmPerQuery: number;
  warmByRoute: Record<string, number>;
  warmErrors: number;
  /** Warm queries answered without an error but with a user other than the one asked (or none). */
  warmWrong?: number;
}

export interface BenchResults {
  machine: MachineInfo;
  config: Record<string, unknown>;
  systems: Array<{
    id: SystemId;
    label: string;
    short: string;
    description: string;
    status: 'ok' | 'failed';
    error?: string;
  }>;
  s1: Record<
    string,
    {
      delayMs: number;
      criticalPathMs: number;
      bySystem: Partial<Record<SystemId, LoadResult & { overheadP50: number; overheadP95: number }>>;
    }
  >;
  s2: Partial<Record<SystemId, S2Result>>;
  s3: Partial<Record<SystemId, LoadResult & { sampleErrors: number }>>;
  s4: Record<
    string,
    {
      k: number;
      idealMs: number;
      customers: number;
      bySystem: Partial<Record<SystemId, LoadResult & { vsIdeal: number }>>;
    }
  >;
  s5: Record<
    string,
    {
      mode: string;
      durationS: number;
      bySystem: Partial<
        Record<
          SystemId,
          LoadResult & { sampleNames: number; sampleBillingNull: number; sampleErrorCodes: string[] }
        >
      >;
    }
  >;
  s6?: {
    target: string;
    silent: LoadResult;
    info: LoadResult;
    lostPct: number;
    logBytesPerRequest: number | undefined;
  };
  profile?: ProfileSummary & { file: string; rps: number | undefined };
  notes: string[];
  targets: Array<{ id: string; text: string; met: boolean | null; detail: string }>;
}

const f = (v: number | undefined, digits = 2) =>
  v === undefined || !Number.isFinite(v) ? 'n/a' : v.toFixed(digits);

const ratio = (j: number | undefined, b: number | undefined) => {
  if (j === undefined || b === undefined || !Number.isFinite(j) || !Number.isFinite(b) || b <= 0 || j < 0)
    return 'n/a';
  const x = j / b;
  return `${x >= 0.01 ? x.toFixed(2) : x.toPrecision(2)}×`;
};

export function evaluateTargets(r: BenchResults): BenchResults['targets'] {
  const targets: BenchResults['targets'] = [];
  const j2 = r.s2.junction;
  const b2 = r.s2.dataloader;
  if (j2) {
    targets.push({
      id: 'S2 cold',
      text: 'upstream calls exactly 1.00× the floor when cold',
      met: j2.coldVsFloor === 1 && j2.queriesAtFloor === j2.queries,
      detail: `${f(j2.coldPerQuery)} calls/query vs floor ${f(j2.floorPerQuery)} (${f(j2.coldVsFloor, 3)}×); ${j2.queriesAtFloor}/${j2.queries} queries exactly at the floor`,
    });
    targets.push({
      id: 'S2 warm',
      text: 'at most 0.5× baseline 3 (DataLoader + undici) when warm',
      met: b2 ? j2.warmPerQuery <= 0.5 * b2.warmPerQuery : null,
      detail: b2
        ? `${f(j2.warmPerQuery)} vs ${f(b2.warmPerQuery)} calls/query = ${ratio(j2.warmPerQuery, b2.warmPerQuery)}`
        : 'baseline 3 not run',
    });
  }
  const j3 = r.s3.junction;
  const b3 = r.s3.dataloader;
  if (j3) {
    targets.push({
      id: 'S3',
      text: 'at least 3× baseline 3 req/s at saturation',
      met: b3 ? j3.rps >= 3 * b3.rps : null,
      detail: b3
        ? `${f(j3.rps, 0)} vs ${f(b3.rps, 0)} req/s = ${ratio(j3.rps, b3.rps)}`
        : 'baseline 3 not run',
    });
  }
  const zero = r.s1['0']?.bySystem.junction;
  if (zero) {
    targets.push({
      id: 'S1',
      text: 'p95 overhead at most 2 ms at zero upstream delay',
      met: zero.overheadP95 <= 2,
      detail: `p95 ${f(zero.p95)} ms − critical path 0 ms = ${f(zero.overheadP95)} ms (p50 ${f(zero.p50)} ms)`,
    });
  }
  for (const [mode, entry] of Object.entries(r.s5)) {
    const j = entry.bySystem.junction;
    if (!j) continue;
    targets.push({
      id: `S5 ${mode}`,
      text: `p99 at most 20 ms while Stripe is down (${mode === 'hang' ? 'hangs' : 'answers 503'})`,
      met: j.p99 <= 20,
      detail: `p99 ${f(j.p99)} ms, p50 ${f(j.p50)} ms, ${f(j.rps, 0)} req/s; sample response: ${j.sampleNames}/10 names, ${j.sampleBillingNull}/10 billing null, error codes ${j.sampleErrorCodes.join(', ') || 'none'}`,
    });
  }
  return targets;
}

interface Row {
  scenario: string;
  metric: string;
  values: Partial<Record<SystemId, number | undefined>>;
  digits?: number;
  /** Show Junction/baseline ratios for this row. */
  ratios?: boolean;
  /** Text shown instead of a value (e.g. no response completed). */
  text?: Partial<Record<SystemId, string>>;
}

function rows(r: BenchResults): Row[] {
  const out: Row[] = [];
  for (const entry of Object.values(r.s1)) {
    const by = entry.bySystem;
    const pick = (key: 'p50' | 'p95' | 'overheadP50' | 'overheadP95') =>
      Object.fromEntries(Object.entries(by).map(([id, v]) => [id, v?.[key]]));
    const label = `S1 delay ${entry.delayMs} ms`;
    out.push({
      scenario: label,
      metric: `p50 latency, ms (critical path ${entry.criticalPathMs})`,
      values: pick('p50'),
    });
    out.push({ scenario: label, metric: `p95 latency, ms`, values: pick('p95') });
    out.push({ scenario: label, metric: 'p50 overhead, ms', values: pick('overheadP50'), ratios: true });
    out.push({ scenario: label, metric: 'p95 overhead, ms', values: pick('overheadP95'), ratios: true });
  }
  const s2 = Object.entries(r.s2);
  if (s2.length > 0) {
    const floor = r.s2.junction?.floorPerQuery ?? s2[0]?.[1]?.floorPerQuery;
    const warmFloor = r.s2.junction?.warmFloorPerQuery ?? s2[0]?.[1]?.warmFloorPerQuery;
    out.push({
      scenario: 'S2 cold',
      metric: `upstream calls/query (floor ${f(floor)})`,
      values: Object.fromEntries(s2.map(([id, v]) => [id, v?.coldPerQuery])),
      ratios: true,
    });
    out.push({
      scenario: 'S2 cold',
      metric: '× the floor',
      values: Object.fromEntries(s2.map(([id, v]) => [id, v?.coldVsFloor])),
      digits: 3,
    });
    out.push({
      scenario: 'S2 warm',
      metric: `upstream calls/query (these queries' cold floor ${f(warmFloor)})`,
      values: Object.fromEntries(s2.map(([id, v]) => [id, v?.warmPerQuery])),
      ratios: true,
    });
    out.push({
      scenario: 'S2',
      metric: `queries answered with errors (of ${2 * (s2[0]?.[1]?.queries ?? 0)})`,
      values: Object.fromEntries(s2.map(([id, v]) => [id, v ? v.coldErrors + v.warmErrors : undefined])),
      digits: 0,
    });
    out.push({
      scenario: 'S2',
      metric: `queries answered without an error but with a wrong or missing user (of ${2 * (s2[0]?.[1]?.queries ?? 0)})`,
      values: Object.fromEntries(
        s2.map(([id, v]) => [id, v?.coldWrong === undefined ? undefined : v.coldWrong + (v.warmWrong ?? 0)]),
      ),
      digits: 0,
    });
  }
  const s3 = Object.entries(r.s3);
  if (s3.length > 0) {
    const pick = (fn: (v: LoadResult & { sampleErrors: number }) => number | undefined) =>
      Object.fromEntries(s3.map(([id, v]) => [id, v ? fn(v) : undefined]));
    out.push({
      scenario: 'S3 50 conns',
      metric: 'req/s',
      values: pick((v) => v.rps),
      digits: 0,
      ratios: true,
    });
    out.push({
      scenario: 'S3 50 conns',
      metric: 'p95 latency, ms',
      values: pick((v) => v.p95),
      ratios: true,
    });
    out.push({
      scenario: 'S3 50 conns',
      metric: 'peak RSS, MiB',
      values: pick((v) => v.peakRssMiB),
      digits: 0,
      ratios: true,
    });
    out.push({
      scenario: 'S3 50 conns',
      metric: 'server CPU, % of a core',
      values: pick((v) => v.cpuPct),
      digits: 0,
    });
    out.push({
      scenario: 'S3 50 conns',
      metric: 'sample answers with errors or a wrong user (of 20)',
      values: Object.fromEntries(s3.map(([id, v]) => [id, v?.sampleErrors])),
      digits: 0,
    });
    out.push({
      scenario: 'S3 50 conns',
      metric: 'simulators CPU, % of a core',
      values: pick((v) => v.otherCpuPct?.simulators),
      digits: 0,
    });
  }
  for (const entry of Object.values(r.s4)) {
    out.push({
      scenario: `S4 k=${entry.k}`,
      metric: `p50 latency, ms (ideal ⌈${entry.customers}/${entry.k}⌉×20 = ${entry.idealMs})`,
      values: Object.fromEntries(Object.entries(entry.bySystem).map(([id, v]) => [id, v?.p50])),
      digits: 1,
      ratios: true,
    });
    out.push({
      scenario: `S4 k=${entry.k}`,
      metric: 'p50 / ideal',
      values: Object.fromEntries(Object.entries(entry.bySystem).map(([id, v]) => [id, v?.vsIdeal])),
    });
  }
  for (const entry of Object.values(r.s5)) {
    const scenario = `S5 Stripe ${entry.mode === 'hang' ? 'hangs' : 'answers 503'}`;
    const none = Object.fromEntries(
      Object.entries(entry.bySystem)
        .filter(([, v]) => v?.requests === 0)
        .map(([id]) => [id, `none in ${entry.durationS} s`]),
    );
    const pick = (fn: (v: LoadResult) => number) =>
      Object.fromEntries(Object.entries(entry.bySystem).map(([id, v]) => [id, v ? fn(v) : undefined]));
    out.push({
      scenario,
      metric: 'p50 latency, ms',
      values: pick((v) => v.p50),
      digits: 1,
      ratios: true,
      text: none,
    });
    out.push({
      scenario,
      metric: 'p99 latency, ms',
      values: pick((v) => v.p99),
      digits: 1,
      ratios: true,
      text: none,
    });
    out.push({
      scenario,
      metric: `responses in ${entry.durationS} s`,
      values: pick((v) => v.requests),
      digits: 0,
    });
    // A fast answer is only worth it with the healthy provider's data in it.
    out.push({
      scenario,
      metric: 'sample answer: users with their name (of 10)',
      values: Object.fromEntries(Object.entries(entry.bySystem).map(([id, v]) => [id, v?.sampleNames])),
      digits: 0,
    });
  }
  if (r.s6) {
    out.push({
      scenario: 'S6 logging',
      metric: 'req/s, LOG_LEVEL=silent',
      values: { junction: r.s6.silent.rps },
      digits: 0,
    });
    out.push({
      scenario: 'S6 logging',
      metric: `req/s, LOG_LEVEL=info → ${r.s6.target}`,
      values: { junction: r.s6.info.rps },
      digits: 0,
    });
    out.push({
      scenario: 'S6 logging',
      metric: 'req/s lost, %',
      values: { junction: r.s6.lostPct },
      digits: 1,
    });
  }
  return out;
}

export function resultsTable(r: BenchResults): string {
  const systems = r.systems;
  const baselines = systems.filter((s) => s.id !== 'junction');
  const head = [
    'scenario',
    'metric',
    ...systems.map((s) => s.short),
    ...baselines.map((b) => `J / ${b.short.split(' ')[0]}`),
  ];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const row of rows(r)) {
    const digits = row.digits ?? 2;
    const cells = systems.map((s) => row.text?.[s.id] ?? f(row.values[s.id], digits));
    const ratios = baselines.map((b) => (row.ratios ? ratio(row.values.junction, row.values[b.id]) : ''));
    lines.push(`| ${row.scenario} | ${row.metric} | ${cells.join(' | ')} | ${ratios.join(' | ')} |`);
  }
  return lines.join('\n');
}

function targetsTable(r: BenchResults): string {
  const lines = ['| target | met? | measured |', '|---|---|---|'];
  for (const t of r.targets) {
    lines.push(
      `| ${t.id}: ${t.text} | ${t.met === null ? 'n/a' : t.met ? '**met**' : '**missed**'} | ${t.detail} |`,
    );
  }
  return lines.join('\n');
}

function machineLine(r: BenchResults): string {
  const m = r.machine;
  return `${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}, ${m.os}; commit \`${m.gitCommit.slice(0, 12)}\`${m.gitDirty ? ' (with uncommitted changes)' : ''}; ${m.date}. Pinning: ${m.pinning}.`;
}

function profileSection(r: BenchResults): string {
  const p = r.profile;
  if (!p) return '';
  const fns = p.topFunctions
    .slice(0, 15)
    .map((e) => `| ${e.selfPct.toFixed(1)} % | \`${e.name}\` | ${e.where ? `\`${e.where}\`` : ''} |`);
  const owners = p.byOwner.slice(0, 12).map((e) => `| ${e.selfPct.toFixed(1)} % | ${e.name} |`);
  return [
    `CPU profile of Junction under the S3 load (\`node --cpu-prof\`, ${f(p.totalMs / 1000, 1)} s sampled, ${f(p.busyPct, 0)} % busy; shares are of busy time; the profile itself stays in \`/tmp\`).`,
    '',
    '| self time | by owner |',
    '|---|---|',
    ...owners,
    '',
    '| self time | function | where |',
    '|---|---|---|',
    ...fns,
  ].join('\n');
}

function systemsList(r: BenchResults): string {
  return r.systems
    .map(
      (s) =>
        `- **${s.label}**: ${s.description}${s.status === 'failed' ? ` — **failed in this run**: ${s.error}` : ''}`,
    )
    .join('\n');
}

export function renderMarkdown(r: BenchResults): string {
  return [
    '# Junction benchmark results',
    '',
    `Machine: ${machineLine(r)}`,
    '',
    `Runs: ${r.config.durationS} s measured after ${r.config.warmupS} s warm-up per load run; all on 127.0.0.1. Ratios are Junction / baseline (for latency, calls and RSS lower is better; for req/s higher is better).`,
    '',
    resultsTable(r),
    '',
    '## Targets',
    '',
    targetsTable(r),
    '',
    '## Systems',
    '',
    systemsList(r),
    '',
    '## Notes',
    '',
    ...r.notes.map((n) => `- ${n}`),
    '',
    '## Profile',
    '',
    profileSection(r),
    '',
  ].join('\n');
}

export const README_START = '<!-- bench:results:start (written by `npm run bench`) -->';
export const README_END = '<!-- bench:results:end -->';

function readmeBlock(r: BenchResults): string {
  return [
    README_START,
    '',
    `### Latest results`,
    '',
    `Machine: ${machineLine(r)} Full figures: \`test/bench/results/latest.json\`, \`test/bench/results/latest.md\`.`,
    '',
    resultsTable(r),
    '',
    '#### Targets',
    '',
    targetsTable(r),
    '',
    '#### Systems compared',
    '',
    systemsList(r),
    '',
    '#### Settings worth knowing',
    '',
    ...r.notes.map((n) => `- ${n}`),
    '',
    '#### Profile',
    '',
    profileSection(r),
    '',
    README_END,
  ].join('\n');
}

const README_INTRO = [
  '## Performance',
  '',
  '`npm run bench` (≈ 9 minutes on 2 cores) measures Junction against five baselines, side by side, on the same',
  'simulators (real loopback HTTP servers whose latency and faults the bench sets), with autocannon',
  'as the load generator. Each system under test runs in its own process pinned with `taskset` to',
  'CPU 1, the load generator and simulators on CPU 0 (pinning is skipped when `taskset` is missing).',
  'Every load is bounded in time and sent to 127.0.0.1 only. Results go to',
  '`test/bench/results/latest.json` and `test/bench/results/latest.md`, and the table below is rewritten.',
  '',
  '| scenario | what is measured |',
  '|---|---|',
  '| S1 | 1 connection, upstream delay 0/10/50 ms, `user(id)` with name, billing, payments: overhead = latency − critical path (2 × delay) |',
  '| S2 | upstream calls per query (simulator counters, OAuth token calls excluded), 20 Zipf-distributed ids per query, cold (cache emptied before each query) and warm (second pass of new draws) |',
  '| S3 | saturation, 50 connections, 5 Zipf ids per query: req/s, p95, peak RSS and CPU of the server process |',
  '| S4 | fan-out without a batch endpoint: billing of 100 users, Stripe customer GETs delayed 20 ms, sockets per origin k: p50 vs ⌈100/k⌉ × 20 ms |',
  '| S5 | Stripe down (503, then hanging), fresh process, 2 connections: p50/p99 of `users(first: 10) { name billing { id } }` after a warm-up under the outage |',
  '| S6 | Junction only: req/s with `LOG_LEVEL=info` (to a file) vs `silent` under the S3 load |',
  '',
  'Knobs (environment): `BENCH_DURATION_S` (5), `BENCH_WARMUP_S` (2), `BENCH_SYSTEMS`',
  '(`junction,naive,datasource-rest,dataloader,hive,tailcall`), `BENCH_SCENARIOS` (`s1,s2,s3,s4,s5,s6,profile`),',
  '`BENCH_S1_DELAYS_MS` (0,10,50), `BENCH_S2_QUERIES` (100), `BENCH_S2_IDS` (20), `BENCH_ZIPF_S` (1.1),',
  '`BENCH_S3_CONNECTIONS` (50), `BENCH_S3_WARMUP_S` (5), `BENCH_S3_IDS` (5), `BENCH_S4_K` (10,32), `BENCH_S5_CONNECTIONS` (2), `BENCH_S5_HANG_WARMUP_S` (6), `BENCH_S5_HANG_DURATION_S` (12),',
  '`BENCH_UPSTREAM_CONNECTIONS` (32), `BENCH_RATE_LIMIT_PER_SECOND` (100000, given to Junction),',
  '`BENCH_PIN` (1), `BENCH_SUT_CPUS` (1), `BENCH_LOAD_CPUS` (0), `BENCH_LOG_TARGET` (`file` or `devnull`),',
  "`BENCH_UPDATE_README` (1), `BENCH_MAX_TOTAL_S` (900, a hard stop), `BENCH_VERBOSE=1` (children's stderr), `BENCH_REPORT_ONLY=1` (re-render from `latest.json`).",
  'E.g. a quick look: `BENCH_DURATION_S=2 BENCH_SCENARIOS=s1,s3 BENCH_SYSTEMS=junction,dataloader npm run bench`.',
  '',
].join('\n');

/**
 * Rewrites the README's Performance section from its heading down to the end of the generated block
 * (the how-to and the results), or appends the section at the end when it is not there yet. Text
 * after the block (hand-written analysis) and every other section are left as they are.
 */
export function updateReadme(path: string, r: BenchResults): void {
  const text = readFileSync(path, 'utf8');
  const fresh = `${README_INTRO}\n${readmeBlock(r)}`;
  const start = text.indexOf(README_START);
  const end = text.indexOf(README_END);
  const heading = text.lastIndexOf('\n## Performance\n', start);
  let next: string;
  if (start >= 0 && end > start && heading >= 0) {
    next = text.slice(0, heading + 1) + fresh + text.slice(end + README_END.length);
  } else {
    next = `${text.replace(/\s*$/, '')}\n\n${fresh}\n`;
  }
  writeFileSync(path, next);
}

// `npm run bench:hotpath`: where Junction's per-operation CPU and allocations go, for S1 (one
// user, cold, one connection) and S3 (Zipf ids, cache as designed, 50 connections). One Junction
// per scenario, started like the bench's (NODE_ENV=production, on the simulators), with
// `--cpu-prof` and `--trace-gc` (its lines read: scavenges, mark-compacts and bytes allocated per
// operation; --heap-prof is no use here, it keeps only the samples still alive at exit: startup's). Writes test/bench/results/hotpath.{json,md}.
//
// Knobs: BENCH_HOTPATH_SCENARIOS (s1,s3), BENCH_DURATION_S, BENCH_WARMUP_S, BENCH_S3_CONNECTIONS,
// BENCH_HOTPATH_LABEL, BENCH_LOG_LEVEL (default silent: what the figures are compared against).
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Child, pinSelf, spawnChild } from './lib/child.js';
import { clientToken } from './lib/clientToken.js';
import { loadBenchConfig } from './lib/config.js';
import { runLoad } from './lib/load.js';
import { machineInfo } from './lib/machine.js';
import { summarizeProfile } from './lib/profile.js';
import { body, byIdsQuery, prng, USER_IDS, zipf } from './lib/queries.js';
import { BENCH_JWT_SECRET, systemEnv } from './lib/systems.js';
import type { SimsInfo } from './sims.js';

const cfg = loadBenchConfig();
const scenarios = (process.env.BENCH_HOTPATH_SCENARIOS ?? 's1,s3').split(',').map((s) => s.trim());
const label = process.env.BENCH_HOTPATH_LABEL ?? new Date().toISOString();
const logLevel = process.env.BENCH_LOG_LEVEL ?? 'silent';
const dir = '/tmp/junction-hotpath';
const startedAt = Date.now();
const log = (m: string) =>
  process.stderr.write(`[hotpath ${((Date.now() - startedAt) / 1000).toFixed(0).padStart(4)}s] ${m}\n`);

async function main(): Promise<void> {
  if (cfg.pin) pinSelf(cfg.loadCpus);
  const sims: Child = spawnChild({
    entry: 'test/bench/sims.ts',
    env: {},
    cpus: cfg.pin ? cfg.loadCpus : undefined,
    label: 'sims',
  });
  const out: Record<string, unknown> = {};
  try {
    const simsInfo = ((await sims.ready) as { info: SimsInfo }).info;
    await sims.request('faults', { rules: {} });
    const token = await clientToken(BENCH_JWT_SECRET, { sub: 'usr_0001', admin: true, ttlSeconds: 3600 });
    const headers = { authorization: `Bearer ${token}` };
    for (const scenario of scenarios) {
      const sdir = join(dir, scenario);
      rmSync(sdir, { recursive: true, force: true });
      mkdirSync(sdir, { recursive: true });
      const gcLog = join(sdir, 'trace-gc.log');
      const child = spawnChild({
        entry: 'test/bench/servers/junction.ts',
        env: systemEnv('junction', simsInfo, {
          connections: cfg.upstreamConnections,
          timeoutMs: cfg.upstreamTimeoutMs,
          rateLimit: cfg.junctionRateLimit,
          logLevel,
        }),
        cpus: cfg.pin ? cfg.sutCpus : undefined,
        nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${sdir}`, '--trace-gc'],
        // --trace-gc writes to stdout; with LOG_LEVEL=silent nothing else does.
        stdoutFile: gcLog,
        label: `junction-${scenario}`,
      });
      let window: { fromUs: number; toUs: number } | undefined;
      let requests = 0;
      let gcBefore = { scavenges: 0, markCompacts: 0, allocatedMB: 0 };
      let gcAfter = gcBefore;
      let rps = 0;
      let cpuPct: number | undefined;
      // --trace-gc lines: `Scavenge 12.3 (14.5) -> 10.1 (15.0) MB`. What was allocated between two
      // collections is the heap before the second less the heap after the first.
      const gcCounts = () => {
        const text = existsSync(gcLog) ? readFileSync(gcLog, 'utf8') : '';
        let allocatedMB = 0;
        let after: number | undefined;
        for (const m of text.matchAll(
          /(Scavenge|Mark-Compact|Minor Mark-Sweep)[^\n]*?([\d.]+) \(([\d.]+)\) -> ([\d.]+)/g,
        )) {
          const before = Number(m[2]);
          if (after !== undefined && before > after) allocatedMB += before - after;
          after = Number(m[4]);
        }
        return {
          scavenges: (text.match(/Scavenge|Minor Mark-Sweep/g) ?? []).length,
          markCompacts: (text.match(/Mark-Compact/g) ?? []).length,
          allocatedMB,
        };
      };
      try {
        const url = (await child.ready).url as string;
        let bodies: string[];
        let connections: number;
        if (scenario === 's1') {
          await child.request('setCold', { on: true });
          const random = prng(11);
          bodies = Array.from({ length: 2000 }, () =>
            body(byIdsQuery([USER_IDS[Math.floor(random() * USER_IDS.length)] as string])),
          );
          connections = 1;
        } else {
          const draw = zipf(cfg.zipfExponent, 31);
          bodies = Array.from({ length: 5000 }, () =>
            body(byIdsQuery(Array.from({ length: cfg.s3IdsPerQuery }, draw))),
          );
          connections = cfg.s3Connections;
        }
        const run = (durationS: number) =>
          runLoad({ url, connections, durationS, headers, bodies, watchPid: child.pid });
        if (cfg.warmupS > 0) await run(Math.max(cfg.warmupS, scenario === 's3' ? cfg.s3WarmupS : 0));
        await new Promise((r) => setTimeout(r, 300));
        gcBefore = gcCounts();
        const fromUs = Number(process.hrtime.bigint() / 1000n);
        const r = await run(cfg.durationS);
        window = { fromUs, toUs: Number(process.hrtime.bigint() / 1000n) };
        await new Promise((r) => setTimeout(r, 300));
        gcAfter = gcCounts();
        requests = r.requests;
        rps = r.rps;
        cpuPct = r.cpuPct;
        log(`${scenario}: ${r.rps.toFixed(0)} req/s, p50 ${r.p50.toFixed(2)} ms, ${r.non2xx} non-2xx`);
      } finally {
        await child.stop();
      }
      const cpu = readdirSync(sdir).find((f) => f.endsWith('.cpuprofile'));
      const per = (n: number) => Math.round((n / Math.max(1, requests)) * 1000) / 1000;
      out[scenario] = {
        requests,
        rps,
        cpuPct,
        gcPerOperation: {
          scavenges: per(gcAfter.scavenges - gcBefore.scavenges),
          markCompacts: per(gcAfter.markCompacts - gcBefore.markCompacts),
          allocatedKB: Math.round(
            ((gcAfter.allocatedMB - gcBefore.allocatedMB) * 1024) / Math.max(1, requests),
          ),
        },
        cpu: cpu ? summarizeProfile(join(sdir, cpu), window, 25) : undefined,
      };
    }
  } finally {
    await sims.stop();
  }
  const outDir = resolve(cfg.outDir);
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, 'hotpath.json');
  const previous = existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as { runs: Record<string, unknown> })
    : { runs: {} };
  previous.runs[label] = { machine: machineInfo('taskset'), logLevel, scenarios: out };
  writeFileSync(file, `${JSON.stringify(previous, null, 2)}\n`);
  writeFileSync(join(outDir, 'hotpath.md'), renderMd(previous.runs));
  log(`wrote ${file}`);
}

function renderMd(runs: Record<string, unknown>): string {
  const lines = ['# Where an operation goes (CPU self time, sampled allocations, GC per operation)', ''];
  for (const [runLabel, run] of Object.entries(runs) as [string, any][]) {
    lines.push(
      `## ${runLabel} (LOG_LEVEL=${run.logLevel}, commit ${run.machine.gitCommit}${run.machine.gitDirty ? '+local' : ''})`,
      '',
    );
    for (const [scenario, s] of Object.entries(run.scenarios) as [string, any][]) {
      lines.push(
        `### ${scenario.toUpperCase()}: ${Math.round(s.rps)} req/s, ${s.requests} operations; per operation ${s.gcPerOperation.allocatedKB} KB allocated, ${s.gcPerOperation.scavenges} scavenges, ${s.gcPerOperation.markCompacts} mark-compacts`,
        '',
        '| CPU self time: function | where | % of busy |',
        '|---|---|---:|',
        ...(s.cpu?.topFunctions ?? []).map((f: any) => `| ${f.name} | ${f.where} | ${f.selfPct} |`),
        '',
        '| CPU by owner | % of busy |',
        '|---|---:|',
        ...(s.cpu?.byOwner ?? []).map((f: any) => `| ${f.name} | ${f.selfPct} |`),
        '',
        '',
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

main().catch((error: unknown) => {
  log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exit(1);
});

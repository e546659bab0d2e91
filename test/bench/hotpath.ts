// `npm run bench:hotpath`: where Junction's per-operation CPU and allocations go, for S1 (one
// user, cold, one connection) and S3 (Zipf ids, cache as designed, 50 connections). One Junction
// per scenario, started like the bench's (NODE_ENV=production, on the simulators), with
// `--cpu-prof`, `--heap-prof` (sampling allocation profile) and `--trace-gc` (its lines counted:
// scavenges and mark-compacts per operation). Writes bench-results/hotpath.{json,md}.
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
import { ownerOf, summarizeProfile } from './lib/profile.js';
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

interface HeapNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: HeapNode[];
}

/** Sampled allocation bytes by function and by owner (a `.heapprofile` written by --heap-prof). */
function summarizeHeap(path: string, top = 15) {
  const root = (JSON.parse(readFileSync(path, 'utf8')) as { head: HeapNode }).head;
  const fns = new Map<string, number>();
  const owners = new Map<string, number>();
  let total = 0;
  const walk = (node: HeapNode) => {
    const { functionName, url, lineNumber } = node.callFrame;
    if (node.selfSize > 0) {
      total += node.selfSize;
      const where = url
        ? `${url.replace(/^.*\/node_modules\//, '').replace(/^.*\/src\//, 'src/')}:${lineNumber + 1}`
        : '';
      const key = `${functionName || '(anonymous)'} ${where}`;
      fns.set(key, (fns.get(key) ?? 0) + node.selfSize);
      const owner = ownerOf(url, functionName);
      owners.set(owner, (owners.get(owner) ?? 0) + node.selfSize);
    }
    for (const child of node.children) walk(child);
  };
  walk(root);
  const rank = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, bytes]) => ({ name, pct: Math.round((bytes / Math.max(1, total)) * 1000) / 10 }));
  return { topFunctions: rank(fns), byOwner: rank(owners) };
}

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
        nodeArgs: [
          '--cpu-prof',
          `--cpu-prof-dir=${sdir}`,
          '--heap-prof',
          `--heap-prof-dir=${sdir}`,
          '--trace-gc',
        ],
        // --trace-gc writes to stdout; with LOG_LEVEL=silent nothing else does.
        stdoutFile: gcLog,
        label: `junction-${scenario}`,
      });
      let window: { fromUs: number; toUs: number } | undefined;
      let requests = 0;
      let gcBefore = { scavenges: 0, markCompacts: 0 };
      let gcAfter = gcBefore;
      let rps = 0;
      let cpuPct: number | undefined;
      const gcCounts = () => {
        const text = existsSync(gcLog) ? readFileSync(gcLog, 'utf8') : '';
        return {
          scavenges: (text.match(/Scavenge/g) ?? []).length,
          markCompacts: (text.match(/Mark-Compact/g) ?? []).length,
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
      const heap = readdirSync(sdir).find((f) => f.endsWith('.heapprofile'));
      const per = (n: number) => Math.round((n / Math.max(1, requests)) * 1000) / 1000;
      out[scenario] = {
        requests,
        rps,
        cpuPct,
        gcPerOperation: {
          scavenges: per(gcAfter.scavenges - gcBefore.scavenges),
          markCompacts: per(gcAfter.markCompacts - gcBefore.markCompacts),
        },
        cpu: cpu ? summarizeProfile(join(sdir, cpu), window, 25) : undefined,
        // The sampling heap profile covers the whole process life (warm-up included).
        allocations: heap ? summarizeHeap(join(sdir, heap)) : undefined,
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
        `### ${scenario.toUpperCase()}: ${Math.round(s.rps)} req/s, ${s.requests} operations; per operation ${s.gcPerOperation.scavenges} scavenges, ${s.gcPerOperation.markCompacts} mark-compacts`,
        '',
        '| CPU self time: function | where | % of busy |',
        '|---|---|---:|',
        ...(s.cpu?.topFunctions ?? []).map((f: any) => `| ${f.name} | ${f.where} | ${f.selfPct} |`),
        '',
        '| CPU by owner | % of busy |',
        '|---|---:|',
        ...(s.cpu?.byOwner ?? []).map((f: any) => `| ${f.name} | ${f.selfPct} |`),
        '',
        '| allocations (sampled bytes): function | % |',
        '|---|---:|',
        ...(s.allocations?.topFunctions ?? []).map((f: any) => `| ${f.name} | ${f.pct} |`),
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

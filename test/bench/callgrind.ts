// `npm run bench:callgrind`: instructions per S1 operation, counted by valgrind's callgrind, a
// figure that does not move with the machine's noise the way latency does.
//
// One Junction from a fresh build (dist, plain `node`, NODE_ENV=production, the JIT on: no
// --jitless, the code measured is the code that serves) runs under `valgrind --tool=callgrind
// --instr-atstart=no` on the bench simulators at zero upstream delay, pinned to its core, "cold"
// (the shared cache emptied before each request, as S1 does, so every operation makes its three
// upstream calls). Startup and a warm-up run uninstrumented (fast enough, and the JIT tiers up on
// them); `callgrind_control --instr=on`, a second warm-up (the code is translated again with
// instrumentation), then for each measured window: `--zero`, N S1 queries one after another, `--dump`.
// Each window starts from a fully collected heap (SIGUSR2 to the entry, node --expose-gc), and an
// idle window's instructions per second are taken off (see below).
// Ir / N is the figure, every thread of the process counted (the JIT's and GC's helper threads
// work for the operations too). Why not --toggle-collect: JIT code has no symbols to toggle on.
//
// Knobs: BENCH_CG_QUERIES (N, default 100), BENCH_CG_WINDOWS (default 2), BENCH_CG_WARMUP (queries
// before instrumentation, default 300), BENCH_CG_SKIP_BUILD=1 (reuse the build), BENCH_CG_REF (a commit
// to build instead of the working tree), BENCH_LOG_LEVEL (default silent; info: S6's logging tax in
// instructions), BENCH_CG_LABEL, BENCH_CG_KEEP=1 (keep the dumps for callgrind_annotate).
// Writes test/bench/results/callgrind.{json,md}, adding to the runs already there (same label: replaced).
import { execFileSync, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { type Child, pinSelf, spawnChild, tasksetAvailable } from './lib/child.js';
import { clientToken } from './lib/clientToken.js';
import { loadBenchConfig } from './lib/config.js';
import { machineInfo } from './lib/machine.js';
import { body, byIdsQuery, prng, USER_IDS } from './lib/queries.js';
import { BENCH_JWT_SECRET, systemEnv } from './lib/systems.js';
import type { SimsInfo } from './sims.js';

const cfg = loadBenchConfig();
const num = (name: string, fallback: number) => {
  const v = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(v) || v < 1 || v > 100_000) throw new Error(`${name}: expected 1..100000`);
  return v;
};
const N = num('BENCH_CG_QUERIES', 100);
const WINDOWS = num('BENCH_CG_WINDOWS', 2);
const WARMUP = num('BENCH_CG_WARMUP', 300);
const IDLE_S = num('BENCH_CG_IDLE_S', 5);
const MAX_TOTAL_S = num('BENCH_CG_MAX_S', 900);
const logLevel = process.env.BENCH_LOG_LEVEL ?? 'silent';
const label = process.env.BENCH_CG_LABEL ?? new Date().toISOString();
/** BENCH_CG_REF: build and measure that commit's src/ instead of the working tree's. */
const ref = process.env.BENCH_CG_REF
  ? execFileSync('git', ['rev-parse', '--short', process.env.BENCH_CG_REF], { encoding: 'utf8' }).trim()
  : undefined;
const distDir = resolve(`node_modules/.cache/bench-callgrind-dist${ref ? `-${ref}` : ''}`);
const outDir = resolve(cfg.outDir);
const cgDir = `/tmp/junction-callgrind-${process.pid}`;
const startedAt = Date.now();
const log = (m: string) =>
  process.stderr.write(`[callgrind ${((Date.now() - startedAt) / 1000).toFixed(0).padStart(4)}s] ${m}\n`);

/** HOST in Junction's environment (vgdb names its pipes after it). */
let controlHost = '';

function controlEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, HOST: controlHost };
  delete env.USER;
  delete env.LOGNAME;
  return env;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `callgrind_control <args> <pid>`; the process is woken by a request if it sits idle. */
async function control(args: string[], pid: number, wake: () => Promise<unknown>): Promise<void> {
  // vgdb finds the process's pipes by the LOGNAME/USER and HOST it ran with (Junction has no user,
  // and its HOST is its listen address): give callgrind_control the same.
  const proc = spawn('callgrind_control', [...args, String(pid)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: controlEnv(),
  });
  let out = '';
  proc.stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  proc.stderr.on('data', (c: Buffer) => {
    out += c.toString();
  });
  const done = new Promise<number>((r) => proc.once('exit', (code) => r(code ?? 1)));
  const timer = setTimeout(() => proc.kill('SIGKILL'), 120_000);
  const code = await done;
  clearTimeout(timer);
  if (process.env.BENCH_VERBOSE === '1') log(`callgrind_control ${args.join(' ')}: ${out.trim()}`);
  if (code !== 0 || !out.includes('OK') || out.includes('error opening')) {
    await wake().catch(() => undefined);
    throw new Error(`callgrind_control ${args.join(' ')}: exit ${code}: ${out.trim()}`);
  }
}

function totalsOf(file: string): number {
  const text = readFileSync(file, 'utf8');
  const m = /^totals:\s+(\d+)/m.exec(text) ?? /^summary:\s+(\d+)/m.exec(text);
  if (!m) throw new Error(`${file}: no totals line`);
  return Number(m[1]);
}

interface Run {
  label: string;
  at: string;
  commit: string;
  queries: number;
  warmup: number;
  logLevel: string;
  windows: Array<{
    ir: number;
    wallS: number;
    irPerOp: number;
    netIrPerOp: number;
    mainIrPerOp: number;
    mainNetIrPerOp: number;
    errors: number;
  }>;
  mainIrPerOp: number;
  idleMainIrPerS: number;
  idleIrPerS: number;
  netIrPerOp: number;
  irPerOp: number;
  wallS: number;
}

async function main(): Promise<void> {
  const watchdog = setTimeout(() => {
    log(`watchdog: over ${MAX_TOTAL_S} s, stopping`);
    process.exit(2);
  }, MAX_TOTAL_S * 1000);
  watchdog.unref();
  for (const tool of ['valgrind', 'callgrind_control']) {
    try {
      execFileSync('which', [tool], { stdio: 'ignore' });
    } catch {
      throw new Error(`${tool} is not installed`);
    }
  }
  if (cfg.pin) pinSelf(cfg.loadCpus);
  const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { encoding: 'utf8' }).trim();
  if (process.env.BENCH_CG_SKIP_BUILD !== '1' || !existsSync(join(distDir, 'app.js'))) {
    if (ref) {
      // The sources of another commit, built with this checkout's node_modules.
      const tree = resolve(`node_modules/.cache/bench-callgrind-src-${ref}`);
      rmSync(tree, { recursive: true, force: true });
      mkdirSync(tree, { recursive: true });
      // The build script lives in src/cli since the top-level layout was fixed; older commits
      // kept it in scripts/.
      const hasScripts = execFileSync('git', ['ls-tree', '--name-only', ref, 'scripts']).length > 0;
      const tar = execFileSync(
        'git',
        [
          'archive',
          '--format=tar',
          ref,
          'src',
          'schema',
          ...(hasScripts ? ['scripts'] : []),
          'tsconfig.json',
          'tsconfig.build.json',
        ],
        { maxBuffer: 256 * 1024 * 1024 },
      );
      execFileSync('tar', ['-x', '-C', tree], { input: tar });
      symlinkSync(resolve('node_modules'), join(tree, 'node_modules'));
      log(`building ${ref} into ${distDir}`);
      const buildScript = hasScripts ? 'scripts/build.mjs' : 'src/cli/build.mjs';
      execFileSync(process.execPath, [join(tree, buildScript), '--out', distDir], {
        stdio: 'inherit',
        cwd: tree,
      });
    } else {
      log(`building the working tree into ${distDir}`);
      execFileSync(process.execPath, ['src/cli/build.mjs', '--out', distDir], { stdio: 'inherit' });
    }
  }
  rmSync(cgDir, { recursive: true, force: true });
  mkdirSync(cgDir, { recursive: true });

  const sims: Child = spawnChild({
    entry: 'test/bench/sims.ts',
    env: {},
    cpus: cfg.pin ? cfg.loadCpus : undefined,
    label: 'sims',
  });
  let junction: ReturnType<typeof spawn> | undefined;
  try {
    const simsInfo = ((await sims.ready) as { info: SimsInfo }).info;
    await sims.request('faults', { rules: {} });
    const token = await clientToken(BENCH_JWT_SECRET, { sub: 'usr_0001', admin: true, ttlSeconds: 3600 });
    const env = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      ...systemEnv('junction', simsInfo, {
        connections: cfg.upstreamConnections,
        // Everything runs 50-100 times slower under callgrind: no timeout may fire (an error path
        // would be counted instead of the operation's own).
        timeoutMs: 60_000,
        rateLimit: cfg.junctionRateLimit,
        logLevel,
      }),
      UPSTREAM_CONNECT_TIMEOUT_MS: '30000',
      OPERATION_TIMEOUT_MS: '120000',
      BENCH_COLD: '1',
      BENCH_DIST_DIR: distDir,
    };
    controlHost = (env as Record<string, string>).HOST ?? '';
    const valgrindArgs = [
      '--tool=callgrind',
      // One count per thread: the main thread's (JavaScript, the event loop, GC's main-thread
      // share) apart from V8's and libuv's helper threads.
      '--separate-threads=yes',
      '--instr-atstart=no',
      `--callgrind-out-file=${cgDir}/callgrind.out.%p`,
      process.execPath,
      '--expose-gc',
      // V8's memory reducer runs major GCs once the process goes idle: they would land in the idle
      // window and pass for timer work. Off (it only shrinks an idle heap).
      '--no-memory-reducer',
      'test/bench/servers/junction-dist.mjs',
    ];
    const pin = cfg.pin && tasksetAvailable();
    // Junction's log (LOG_LEVEL, default silent) goes to a file, as in S6.
    const stdoutFd = openSync(join(cgDir, 'junction.log'), 'w');
    junction = spawn(
      pin ? 'taskset' : 'valgrind',
      pin ? ['-c', cfg.sutCpus, 'valgrind', ...valgrindArgs] : valgrindArgs,
      {
        env,
        stdio: ['ignore', stdoutFd, 'pipe'],
      },
    );
    const proc = junction;
    let stderrTail = '';
    proc.stderr?.on('data', (c: Buffer) => {
      stderrTail = (stderrTail + c.toString()).slice(-3000);
    });
    const port = await new Promise<number>((resolvePort, reject) => {
      const timer = setTimeout(() => reject(new Error(`Junction not up in 300 s: ${stderrTail}`)), 300_000);
      let out = '';
      proc.stderr?.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /listening (\d+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolvePort(Number(m[1]));
        }
      });
      proc.once('exit', (code) => reject(new Error(`Junction exited (${code}): ${stderrTail}`)));
    });
    // taskset execs valgrind, which keeps the pid: the pid callgrind_control addresses.
    const pid = proc.pid as number;
    const url = `http://127.0.0.1:${port}/graphql`;
    log(
      `Junction under callgrind on port ${port} (pid ${pid}) after ${((Date.now() - startedAt) / 1000).toFixed(0)} s`,
    );

    const random = prng(11);
    const bodies = Array.from({ length: 2000 }, () =>
      body(byIdsQuery([USER_IDS[Math.floor(random() * USER_IDS.length)] as string])),
    );
    let next = 0;
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${token}` };
    const query = async (): Promise<boolean> => {
      const res = await fetch(url, {
        method: 'POST',
        headers,
        body: bodies[next++ % bodies.length] as string,
        signal: AbortSignal.timeout(60_000),
      });
      const json = (await res.json()) as { errors?: unknown; data?: unknown };
      return res.status === 200 && json.errors === undefined && json.data !== null;
    };
    const queries = async (n: number): Promise<number> => {
      let errors = 0;
      for (let i = 0; i < n; i++) if (!(await query())) errors += 1;
      return errors;
    };
    const wake = () => fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.text());

    const e0 = await queries(WARMUP);
    log(`warm-up: ${WARMUP} queries uninstrumented (${e0} with errors)`);
    await control(['--instr=on'], pid, wake);
    const e1 = await queries(Math.max(20, Math.round(WARMUP / 4)));
    log(
      `instrumentation on, ${Math.max(20, Math.round(WARMUP / 4))} more warm-up queries (${e1} with errors)`,
    );
    let dumps = 0;
    /** Ir between `--zero` and `--dump` around `work`, and the wall time it took. */
    const measure = async (work: () => Promise<number>) => {
      // From a fully collected heap: whether a major GC falls inside a window then depends on what
      // the window's operations allocate, not on where the previous window left the heap.
      const collected = new Promise<void>((resolveGc, rejectGc) => {
        const timer = setTimeout(() => rejectGc(new Error('no answer to SIGUSR2 in 120 s')), 120_000);
        const onData = (c: Buffer) => {
          if (!c.toString().includes('collected')) return;
          clearTimeout(timer);
          proc.stderr?.off('data', onData);
          resolveGc();
        };
        proc.stderr?.on('data', onData);
      });
      proc.kill('SIGUSR2');
      await collected;
      await control(['--zero'], pid, wake);
      const t0 = performance.now();
      const errors = await work();
      await control(['--dump'], pid, wake);
      const wallS = (performance.now() - t0) / 1000;
      dumps += 1;
      // The dump is written by the process itself, one file per thread (`-01` the main thread's):
      // wait for the main thread's totals line, then add up every thread's.
      const prefix = `callgrind.out.${pid}.${dumps}-`;
      let main: number | undefined;
      for (let i = 0; i < 600 && main === undefined; i++) {
        await sleep(100);
        try {
          main = totalsOf(join(cgDir, `${prefix}01`));
        } catch {
          main = undefined;
        }
      }
      if (main === undefined) throw new Error(`no dump ${prefix}01; files: ${readdirSync(cgDir).join(', ')}`);
      await sleep(1000);
      let ir = 0;
      for (const f of readdirSync(cgDir).filter((name) => name.startsWith(prefix))) {
        try {
          ir += totalsOf(join(cgDir, f));
        } catch {
          // a thread's file still being written: counted as nothing (logged below as a gap)
        }
      }
      return { ir, main, wallS, errors };
    };
    const measured: Array<{ ir: number; main: number; wallS: number; errors: number }> = [];
    for (let w = 0; w < WINDOWS; w++) {
      const m = await measure(() => queries(N));
      measured.push(m);
      log(
        `window ${w + 1}: ${N} queries in ${m.wallS.toFixed(0)} s, Ir ${m.ir.toLocaleString('en')} = ${Math.round(m.ir / N).toLocaleString('en')} per operation, main thread ${Math.round(m.main / N).toLocaleString('en')} (${m.errors} with errors)`,
      );
    }
    // What the process does with no request at all (timers: the event-loop delay monitor, the load
    // shedder's sampler, the server's connection checks...) costs instructions per second of wall
    // time, and under valgrind an operation takes 50-100x its wall time, more on a busy machine:
    // that share is measured apart and taken off, or the figure would follow the machine's load.
    const idle = await measure(async () => {
      await sleep(IDLE_S * 1000);
      return 0;
    });
    const idlePerS = idle.ir / idle.wallS;
    const idleMainPerS = idle.main / idle.wallS;
    log(
      `idle: ${idle.ir.toLocaleString('en')} Ir in ${idle.wallS.toFixed(1)} s = ${Math.round(idlePerS).toLocaleString('en')} per second (main thread ${Math.round(idleMainPerS).toLocaleString('en')})`,
    );
    const windows: Run['windows'] = measured.map((m) => ({
      ir: m.ir,
      wallS: Math.round(m.wallS * 10) / 10,
      irPerOp: Math.round(m.ir / N),
      netIrPerOp: Math.round((m.ir - idlePerS * m.wallS) / N),
      mainIrPerOp: Math.round(m.main / N),
      mainNetIrPerOp: Math.round((m.main - idleMainPerS * m.wallS) / N),
      errors: m.errors,
    }));
    for (const [i, w] of windows.entries())
      log(
        `window ${i + 1}: net of idle ${w.netIrPerOp.toLocaleString('en')} per operation, main thread ${w.mainNetIrPerOp.toLocaleString('en')}`,
      );
    const run: Run = {
      label,
      at: new Date().toISOString(),
      commit: ref ?? (dirty ? `${commit}+local changes` : commit),
      queries: N,
      warmup: WARMUP,
      logLevel,
      windows,
      irPerOp: Math.round(windows.reduce((s, w) => s + w.ir, 0) / (N * windows.length)),
      idleIrPerS: Math.round(idlePerS),
      idleMainIrPerS: Math.round(idleMainPerS),
      mainIrPerOp: Math.round(windows.reduce((s, w) => s + w.mainIrPerOp, 0) / windows.length),
      netIrPerOp: Math.round(windows.reduce((s, w) => s + w.netIrPerOp, 0) / windows.length),
      wallS: Math.round((Date.now() - startedAt) / 1000),
    };
    save(run);
  } finally {
    if (junction && junction.exitCode === null) {
      junction.kill('SIGTERM');
      await Promise.race([new Promise((r) => junction?.once('exit', r)), sleep(20_000)]);
      if (junction.exitCode === null) junction.kill('SIGKILL');
    }
    await sims.stop();
    clearTimeout(watchdog);
    if (process.env.BENCH_CG_KEEP === '1') log(`dumps kept in ${cgDir} (callgrind_annotate reads them)`);
    else rmSync(cgDir, { recursive: true, force: true });
  }
}

function save(run: Run): void {
  mkdirSync(outDir, { recursive: true });
  const jsonFile = join(outDir, 'callgrind.json');
  const previous = existsSync(jsonFile)
    ? (JSON.parse(readFileSync(jsonFile, 'utf8')) as { runs: Run[] })
    : { runs: [] as Run[] };
  const runs = [...previous.runs.filter((r) => r.label !== run.label), run];
  const machine = machineInfo('taskset: Junction (under valgrind) on its own core');
  writeFileSync(
    jsonFile,
    `${JSON.stringify({ machine, query: 'S1 byIds(1), cold, zero delay', runs }, null, 2)}\n`,
  );
  const lines = [
    '# Instructions per S1 operation (valgrind --tool=callgrind)',
    '',
    `Machine: ${machine.cpuModel}, ${machine.cores} cores. Junction from a fresh build (dist, node ${process.version}, NODE_ENV=production, JIT on), cold (the cache emptied before each request: three upstream calls per operation), zero upstream delay, one query at a time. Counted: every thread of the Junction process, between \`callgrind_control --zero\` and \`--dump\`, after an uninstrumented and an instrumented warm-up. Reproduce: \`npm run bench:callgrind\`.`,
    '',
    '| run | commit | LOG_LEVEL | queries per window | main thread Ir per operation (each window) | all threads Ir per operation (each window) | idle Ir per second (main, all) | all threads net of idle (each window) |',
    '|---|---|---|---:|---|---|---|---|',
    ...runs.map(
      (r) =>
        `| ${r.label} | ${r.commit} | ${r.logLevel ?? 'silent'} | ${r.queries} | ${r.windows.map((w) => w.mainIrPerOp.toLocaleString('en')).join(', ')} | ${r.windows.map((w) => w.irPerOp.toLocaleString('en')).join(', ')} | ${r.idleMainIrPerS.toLocaleString('en')}, ${r.idleIrPerS.toLocaleString('en')} | ${r.windows.map((w) => w.netIrPerOp.toLocaleString('en')).join(', ')} |`,
    ),
    '',
  ];
  writeFileSync(join(outDir, 'callgrind.md'), lines.join('\n'));
  log(
    `wrote ${jsonFile}: ${run.mainIrPerOp.toLocaleString('en')} instructions per operation on the main thread (${run.irPerOp.toLocaleString('en')} in all threads)`,
  );
}

main().catch((error: unknown) => {
  log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exit(1);
});

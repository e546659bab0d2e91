// `npm run bench:logline`: S6's logging tax at its source, in one process, less exposed to a busy
// machine than req/s: the CPU (process.cpuUsage: this thread and libuv's, so the asynchronous
// writes count) of what an operation costs the observability layer — a per-request child logger
// (as Fastify makes), the operation's `extensions` and `finish` (metrics and its one log line) —
// at LOG_LEVEL silent and info, for two builds side by side (BENCH_LOGLINE_BUILDS: dist
// directories, default the two bench:callgrind builds of 8da3985 and b729588). Lines go to a file
// through pino's asynchronous destination, as in S6. Rounds interleave the builds; the minimum
// per build and level is kept (the least disturbed round).
import { existsSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const builds = (
  process.env.BENCH_LOGLINE_BUILDS ??
  'node_modules/.cache/bench-callgrind-dist-8da3985,node_modules/.cache/bench-callgrind-dist-b729588'
)
  .split(',')
  .map((d) => resolve(d.trim()));
const OPS = 20_000;
const ROUNDS = 7;
/** The destination's buffer before a write (BENCH_LOGLINE_MINLENGTH; createServiceLogger's own by default). */
const MIN_LENGTH = Number(process.env.BENCH_LOGLINE_MINLENGTH ?? 0);
const file = '/tmp/junction-logline-bench.log';

async function load(dist: string) {
  if (!existsSync(join(dist, 'app.js')))
    throw new Error(`${dist}: no build (run bench:callgrind with BENCH_CG_REF first)`);
  const imp = (f: string) => import(pathToFileURL(join(dist, f)).href);
  const [{ createOperationReporter }, { createLogger }, { Metrics }, { UpstreamReport }, { pino }] =
    await Promise.all([
      imp('graphql/operationPlugin.js'),
      imp('observability/logger.js'),
      imp('observability/metrics.js'),
      imp('observability/upstreamReport.js'),
      import('pino'),
    ]);
  return { createOperationReporter, createLogger, Metrics, UpstreamReport, pino };
}

type Loaded = Awaited<ReturnType<typeof load>>;

async function round(m: Loaded, level: string): Promise<number> {
  const destination = m.pino.destination({ dest: file, sync: false, minLength: MIN_LENGTH });
  const root = m.createLogger(level, destination);
  const reporter = m.createOperationReporter({
    metrics: new m.Metrics({ defaultMetrics: false }),
    reportMode: 'header',
    reportAdminsOnly: true,
  });
  const before = process.cpuUsage();
  for (let i = 0; i < OPS; i++) {
    const report = new m.UpstreamReport();
    report.recordCache('users', 'miss');
    report.recordCache('stripe', 'miss');
    report.recordCache('stripe', 'miss');
    for (const [provider, route] of [
      ['users', 'GET /users?ids'],
      ['stripe', 'GET /v1/customers/:id'],
      ['stripe', 'GET /v1/payment_intents'],
    ]) {
      report.recordCall({
        provider,
        route,
        attempt: 1,
        outcome: 'success',
        status: 200,
        durationMs: 0.8,
        startedAtMs: Date.now(),
      });
    }
    const context = {
      report,
      logger: root.child({ reqId: `req-${i}` }),
      viewer: { isAdmin: true },
      transport: { kind: 'http' },
      upstream: {},
      requestId: `req-${i}`,
    };
    reporter.extensions(undefined, context, false);
    reporter.finish({
      context,
      operationName: 'ByIds1',
      durationMs: 1.5,
      errors: [],
      hasData: true,
      admitted: true,
    });
    // Let the asynchronous destination write now and then, as the event loop would between requests.
    if (i % 200 === 199) await new Promise((r) => setImmediate(r));
  }
  await new Promise<void>((r) => destination.flush(() => r()));
  const used = process.cpuUsage(before);
  destination.end();
  return ((used.user + used.system) * 1000) / OPS; // ns per operation
}

async function main(): Promise<void> {
  const loaded = await Promise.all(builds.map(load));
  const best: Record<string, number> = {};
  for (let r = 0; r < ROUNDS; r++) {
    for (const [i, m] of loaded.entries()) {
      for (const level of ['silent', 'info']) {
        rmSync(file, { force: true });
        const ns = await round(m, level);
        const key = `${builds[i]?.split('-').pop()} ${level}`;
        best[key] = Math.min(best[key] ?? Number.POSITIVE_INFINITY, ns);
      }
    }
  }
  rmSync(file, { force: true });
  const out = Object.fromEntries(Object.entries(best).map(([k, v]) => [k, `${(v / 1000).toFixed(2)} µs`]));
  process.stdout.write(
    `${JSON.stringify({ cpuPerOperation: out, ops: OPS, rounds: ROUNDS, minLength: MIN_LENGTH }, null, 2)}\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(
    `bench:logline failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});

// Load generation with autocannon (in this process, pinned to the load core), exact latency
// percentiles from every response, and the server process's RSS and CPU read from /proc.
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';

export interface LoadOptions {
  url: string;
  connections: number;
  durationS: number;
  headers: Record<string, string>;
  /** Request bodies, used round-robin (one per request). */
  bodies: string[];
  /** Seconds before a request counts as timed out. Default 15. */
  timeoutS?: number;
  /** Process to watch (RSS, CPU) while the load runs. */
  watchPid?: number;
  /** Other processes whose CPU use is reported (e.g. the simulators). */
  alsoWatch?: Record<string, number>;
}

export interface LoadResult {
  requests: number;
  rps: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** Peak RSS of the watched process during the run, in MiB. */
  peakRssMiB?: number;
  /** CPU used by the watched process, in % of one core. */
  cpuPct?: number;
  /** CPU used by the other watched processes, in % of one core. */
  otherCpuPct?: Record<string, number>;
}

export function percentile(sorted: Float64Array | number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** utime + stime of a process, in clock ticks; undefined off Linux or once it has gone. */
export function cpuTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

/** Resident set size in MiB, from /proc. */
export function rssMiB(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) / 1024;
  } catch {
    return undefined;
  }
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const latencies: number[] = [];
  let next = 0;
  const { bodies } = options;
  const ticksBefore = options.watchPid === undefined ? undefined : cpuTicks(options.watchPid);
  const otherBefore = Object.fromEntries(
    Object.entries(options.alsoWatch ?? {}).map(([name, pid]) => [name, cpuTicks(pid)]),
  );
  let peakRss = options.watchPid === undefined ? undefined : rssMiB(options.watchPid);
  const sampler =
    options.watchPid === undefined
      ? undefined
      : setInterval(() => {
          const rss = rssMiB(options.watchPid as number);
          if (rss !== undefined && (peakRss === undefined || rss > peakRss)) peakRss = rss;
        }, 200);
  const started = process.hrtime.bigint();

  const result = await new Promise<autocannon.Result>((resolveRun, rejectRun) => {
    const instance = autocannon(
      {
        url: options.url,
        connections: options.connections,
        duration: options.durationS,
        pipelining: 1,
        timeout: options.timeoutS ?? 15,
        requests: [
          {
            method: 'POST',
            path: '/graphql',
            headers: { 'content-type': 'application/json', ...options.headers },
            body: bodies[0] as string,
            setupRequest: (req: any) => {
              req.body = bodies[next++ % bodies.length];
              return req;
            },
          },
        ],
      },
      (error: unknown, done: autocannon.Result) => (error ? rejectRun(error) : resolveRun(done)),
    );
    instance.on('response', (_client: unknown, _status: number, _bytes: number, responseTime: number) => {
      latencies.push(responseTime);
    });
  });
  if (sampler) clearInterval(sampler);
  const elapsedS = Number(process.hrtime.bigint() - started) / 1e9;

  const sorted = Float64Array.from(latencies).sort();
  const out: LoadResult = {
    requests: latencies.length,
    rps: latencies.length / result.duration,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted.length > 0 ? (sorted[sorted.length - 1] as number) : Number.NaN,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  };
  if (options.watchPid !== undefined) {
    const after = cpuTicks(options.watchPid);
    if (ticksBefore !== undefined && after !== undefined)
      out.cpuPct = ((after - ticksBefore) / TICKS_PER_SECOND / elapsedS) * 100;
    if (peakRss !== undefined) out.peakRssMiB = peakRss;
  }
  if (options.alsoWatch) {
    out.otherCpuPct = {};
    for (const [name, pid] of Object.entries(options.alsoWatch)) {
      const before = otherBefore[name];
      const after = cpuTicks(pid);
      if (before !== undefined && after !== undefined)
        out.otherCpuPct[name] = ((after - before) / TICKS_PER_SECOND / elapsedS) * 100;
    }
  }
  return out;
}

// Baseline 5: Tailcall 1.0.0, the Rust GraphQL-over-REST runtime, run as its own native process
// (pinned with taskset like every system under test) from the config in ./config.ts. The runner
// drives it directly: there is no Node process next to it, so the core it is pinned to is its own.
// Its @cache lives in the process and has no purge, so "clear the cache" restarts it on the same
// port (~50 ms), and "cold" restarts it with a config without @cache.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { type SystemChild, tasksetAvailable, trackChild } from '../../lib/child.js';
import { rssMiB } from '../../lib/load.js';
import { tailcallConfig } from './config.js';

/** The npm package whose binary is run (pinned exactly in package.json). */
export const TAILCALL_PACKAGE = '@tailcallhq/core-linux-x64-gnu';

/** Path of the Tailcall binary the package installed. */
export function tailcallBinary(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve(`${TAILCALL_PACKAGE}/package.json`)), 'bin', 'tailcall');
}

export interface TailcallLaunchOptions {
  /** The environment every system under test gets (upstream URLs, credentials, socket cap, timeout). */
  env: Record<string, string>;
  /** CPU list for taskset (e.g. `1`); ignored when taskset is missing. */
  cpus?: string | undefined;
  label: string;
  /**
   * Seconds the users service's OAuth token must stay valid: Tailcall 1.0.0 has no client-credentials
   * grant, so the token is fetched once here and must outlive the run. Default 900 (the bench's cap).
   */
  minTokenLifetimeS?: number;
  /** How long to wait for `/status` after each (re)start. Default 15 s. */
  readyTimeoutMs?: number;
  /** Tailcall's batch window in ms (tailcallConfig's batchDelayMs). Default 1. */
  batchDelayMs?: number;
}

function required(env: Record<string, string>, name: string): string {
  const value = env[name];
  if (!value) throw new Error(`tailcall: ${name} is required`);
  return value;
}

function integer(env: Record<string, string>, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`tailcall: ${name}: expected an integer >= 1, got ${raw}`);
  return value;
}

/** How many CPUs a taskset list (`1`, `0-3`, `1,3`) names. */
export function cpuCount(list: string): number {
  let count = 0;
  for (const part of list.split(',')) {
    const [from, to] = part.split('-').map((n) => Number(n.trim()));
    if (from === undefined || !Number.isInteger(from)) throw new Error(`tailcall: bad CPU list ${list}`);
    if (to !== undefined && (!Number.isInteger(to) || to < from))
      throw new Error(`tailcall: bad CPU list ${list}`);
    count += to === undefined ? 1 : to - from + 1;
  }
  return count;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** One client-credentials token for the users service, checked to outlive the run. */
async function usersToken(
  env: Record<string, string>,
  minLifetimeS: number,
  timeoutMs: number,
): Promise<string> {
  const basic = Buffer.from(
    `${required(env, 'USERS_CLIENT_ID')}:${required(env, 'USERS_CLIENT_SECRET')}`,
  ).toString('base64');
  const res = await fetch(required(env, 'USERS_TOKEN_URL'), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${basic}` },
    body: 'grant_type=client_credentials',
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (!res.ok) throw new Error(`tailcall: the users token endpoint answered ${res.status}`);
  const body = (await res.json()) as { access_token?: unknown; expires_in?: unknown };
  if (typeof body.access_token !== 'string')
    throw new Error('tailcall: the users token response has no access_token');
  const expiresIn = Number(body.expires_in);
  if (!Number.isFinite(expiresIn) || expiresIn < minLifetimeS) {
    throw new Error(
      `tailcall: the users token expires in ${String(body.expires_in)} s, the run needs ${minLifetimeS} s (Tailcall 1.0.0 cannot refresh it)`,
    );
  }
  return body.access_token;
}

/** Tailcall as a system under test: started, restarted and stopped by its pid. */
export class TailcallProcess implements SystemChild {
  readonly label: string;
  readonly pinned: boolean;
  readonly ready: Promise<Record<string, unknown>>;
  private readonly options: TailcallLaunchOptions;
  private readonly dir: string;
  private readonly binary: string;
  private proc: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private outputTail = '';
  private port = 0;
  private usersToken = '';
  private cold = false;
  private restarts = 0;
  private stopped = false;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly untrack: () => void;

  constructor(options: TailcallLaunchOptions) {
    this.options = options;
    this.label = options.label;
    this.pinned = options.cpus !== undefined && tasksetAvailable();
    this.binary = tailcallBinary();
    this.dir = mkdtempSync(join(tmpdir(), 'bench-tailcall-'));
    this.untrack = trackChild(this);
    this.ready = this.boot();
    // A rejected ready that nobody awaits must not crash the runner.
    this.ready.catch(() => undefined);
  }

  get pid(): number {
    return this.proc?.pid ?? -1;
  }

  /** The files Tailcall runs from (a private temporary directory, removed on stop). */
  get configDir(): string {
    return this.dir;
  }

  private async boot(): Promise<Record<string, unknown>> {
    const env = this.options.env;
    const timeoutMs = integer(env, 'UPSTREAM_TIMEOUT_MS', 5000);
    this.usersToken = await usersToken(env, this.options.minTokenLifetimeS ?? 900, timeoutMs);
    this.port = await freePort();
    await this.start();
    return { url: `http://127.0.0.1:${this.port}` };
  }

  private writeConfig(): string {
    const env = this.options.env;
    const files = tailcallConfig({
      port: this.port,
      usersUrl: required(env, 'USERS_API_URL'),
      stripeUrl: required(env, 'STRIPE_API_BASE'),
      usersToken: this.usersToken,
      stripeKey: required(env, 'STRIPE_SECRET_KEY'),
      jwtSecret: required(env, 'JWT_SECRET'),
      connections: integer(env, 'UPSTREAM_CONNECTIONS', 32),
      timeoutMs: integer(env, 'UPSTREAM_TIMEOUT_MS', 5000),
      workers: this.pinned ? cpuCount(this.options.cpus as string) : availableParallelism(),
      cache: !this.cold,
      batchDelayMs: this.options.batchDelayMs,
    });
    // The hooks hold the upstream credentials: readable by this user only (the directory is 0700).
    writeFileSync(join(this.dir, 'main.graphql'), files.schema, { mode: 0o600 });
    writeFileSync(join(this.dir, 'hooks.js'), files.hooks, { mode: 0o600 });
    writeFileSync(join(this.dir, 'jwks.json'), files.jwks, { mode: 0o600 });
    return join(this.dir, 'main.graphql');
  }

  private async start(): Promise<void> {
    if (this.stopped) throw new Error(`${this.label} has been stopped`);
    const schema = this.writeConfig();
    const args = ['start', schema];
    const command = this.pinned ? 'taskset' : this.binary;
    // taskset execs the binary: the pid below is Tailcall's own.
    const proc = spawn(
      command,
      this.pinned ? ['-c', this.options.cpus as string, this.binary, ...args] : args,
      {
        cwd: this.dir,
        env: {
          PATH: process.env.PATH ?? '',
          HOME: process.env.HOME ?? '/tmp',
          // Errors only (its INFO line per upstream call would be a logging tax no other system pays),
          // and no usage tracking.
          TAILCALL_LOG_LEVEL: 'error',
          TAILCALL_TRACKER: 'false',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    if (proc.pid === undefined) throw new Error(`${this.label}: failed to start ${this.binary}`);
    this.proc = proc;
    this.outputTail = '';
    const keep = (chunk: Buffer) => {
      this.outputTail = (this.outputTail + chunk.toString('utf8')).slice(-4000);
      if (process.env.BENCH_VERBOSE === '1')
        process.stderr.write(`[${this.label}] ${chunk.toString('utf8')}`);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    let exitedEarly: string | undefined;
    this.exited = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        exitedEarly = `exited (code ${code}, signal ${signal})`;
        resolve();
      });
    });
    const deadline = Date.now() + (this.options.readyTimeoutMs ?? 15_000);
    for (;;) {
      if (exitedEarly) throw new Error(`${this.label} ${exitedEarly}: ${this.outputTail.slice(-1500)}`);
      try {
        const res = await fetch(`http://127.0.0.1:${this.port}/status`, {
          signal: AbortSignal.timeout(1000),
        });
        await res.arrayBuffer();
        if (res.ok && !exitedEarly) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        await this.terminate(0);
        throw new Error(
          `${this.label}: not ready after ${this.options.readyTimeoutMs ?? 15_000} ms: ${this.outputTail.slice(-1500)}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
  private async terminate(graceMs: number): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill(graceMs > 0 ? 'SIGTERM' : 'SIGKILL');
    const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  private async restart(): Promise<void> {
    await this.terminate(5_000);
    this.restarts += 1;
    await this.start();
  }

  request<T = unknown>(type: string, payload: Record<string, unknown> = {}): Promise<T> {
    const run = async (): Promise<unknown> => {
      await this.ready;
      switch (type) {
        case 'clearCache':
          // Nothing is cached in cold mode; otherwise a fresh process is an empty cache.
          if (!this.cold) await this.restart();
          return true;
        case 'setCold': {
          const on = payload.on === true;
          if (on !== this.cold) {
            this.cold = on;
            await this.restart();
          }
          return on;
        }
        case 'stats':
          return { rssMiB: rssMiB(this.pid), restarts: this.restarts, cold: this.cold };
        default:
          throw new Error(`${this.label}: unknown request ${type}`);
      }
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result as Promise<T>;
  }

  async stop(graceMs = 10_000): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.ready.catch(() => undefined);
    await this.terminate(graceMs);
    rmSync(this.dir, { recursive: true, force: true });
    this.untrack();
  }

  kill(): void {
    this.stopped = true;
    this.proc?.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
    this.untrack();
  }
}

/** Starts Tailcall for the runner (see TailcallProcess). */
export function launchTailcall(options: TailcallLaunchOptions): TailcallProcess {
  return new TailcallProcess(options);
}

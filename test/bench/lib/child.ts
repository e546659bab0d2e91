// Child processes of the bench: each system under test (and the simulators) runs in its own Node
// process, started through `taskset` when available so it can be pinned to its own core. Parent and
// child talk over Node's IPC channel with a tiny request/reply protocol.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { openSync } from 'node:fs';
import { availableParallelism } from 'node:os';

export interface IpcRequest {
  id: number;
  type: string;
  [key: string]: unknown;
}

export interface IpcReply {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}

let tasksetChecked: boolean | undefined;

/** True when `taskset` exists and the machine has the CPUs it would pin to. */
export function tasksetAvailable(): boolean {
  if (tasksetChecked === undefined) {
    const probe = spawnSync('taskset', ['-p', String(process.pid)], { encoding: 'utf8' });
    tasksetChecked = probe.status === 0 && availableParallelism() >= 2;
  }
  return tasksetChecked;
}

/** Pins this process and all its threads to `cpus` (e.g. `0`); false when that is not possible. */
export function pinSelf(cpus: string): boolean {
  if (!tasksetAvailable()) return false;
  const res = spawnSync('taskset', ['-a', '-p', '-c', cpus, String(process.pid)], { encoding: 'utf8' });
  return res.status === 0;
}

export interface SpawnOptions {
  /** Entry file (TypeScript, run through tsx). */
  entry: string;
  env: Record<string, string>;
  /** CPU list for taskset (e.g. `1`); ignored when pinning is off or impossible. */
  cpus?: string | undefined;
  /** Extra node flags, e.g. `--cpu-prof`. */
  nodeArgs?: string[];
  /** Where the child's stdout goes: a file path, or undefined for /dev/null. */
  stdoutFile?: string | undefined;
  /** How long to wait for the child's `ready` message. Default 60 s. */
  readyTimeoutMs?: number;
  label: string;
}

/**
 * What the runner needs of a system under test, whichever way it is started: a Node child over IPC
 * (`Child`), or a native binary driven from the runner (Tailcall).
 */
export interface SystemChild {
  readonly label: string;
  /** The process that serves (and whose RSS and CPU are measured); it may change across requests. */
  readonly pid: number;
  readonly pinned: boolean;
  /** Resolves once the system answers, with at least its `url`. */
  readonly ready: Promise<Record<string, unknown>>;
  /** `clearCache`, `setCold` ({ on }), `stats`: the controls every system answers. */
  request<T = unknown>(type: string, payload?: Record<string, unknown>, timeoutMs?: number): Promise<T>;
  /** Stops the system cleanly, then by force after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  /** Kills at once (the runner's emergency stop). */
  kill(): void;
}

export class Child implements SystemChild {
  readonly pid: number;
  readonly pinned: boolean;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private exited = false;
  private readonly exitPromise: Promise<void>;
  readonly ready: Promise<Record<string, unknown>>;

  constructor(
    private readonly proc: ChildProcess,
    readonly label: string,
    pinned: boolean,
    readyTimeoutMs: number,
  ) {
    if (proc.pid === undefined) throw new Error(`${label}: failed to start`);
    this.pid = proc.pid;
    this.pinned = pinned;
    let stderrTail = '';
    proc.stderr?.on('data', (chunk: Buffer) => {
      stderrTail = (stderrTail + chunk.toString('utf8')).slice(-4000);
      if (process.env.BENCH_VERBOSE === '1') process.stderr.write(`[${label}] ${chunk.toString('utf8')}`);
    });
    this.exitPromise = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        this.exited = true;
        for (const { reject } of this.pending.values()) {
          reject(new Error(`${label} exited (code ${code}, signal ${signal}): ${stderrTail.slice(-800)}`));
        }
        this.pending.clear();
        resolve();
      });
    });
    this.ready = new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${label}: not ready after ${readyTimeoutMs} ms: ${stderrTail.slice(-800)}`)),
        readyTimeoutMs,
      );
      proc.on('message', (message: unknown) => {
        const m = message as { type?: string; id?: number };
        if (m.type === 'ready') {
          clearTimeout(timer);
          resolve(message as Record<string, unknown>);
          return;
        }
        if (m.type === 'failed') {
          clearTimeout(timer);
          reject(new Error(`${label} failed to start: ${(message as { error?: string }).error}`));
          return;
        }
        const reply = message as IpcReply;
        const waiter = this.pending.get(reply.id);
        if (!waiter) return;
        this.pending.delete(reply.id);
        if (reply.ok) waiter.resolve(reply.result);
        else waiter.reject(new Error(`${label}: ${reply.error}`));
      });
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${label} exited before ready (code ${code}): ${stderrTail.slice(-1500)}`));
      });
    });
    // A rejected ready that nobody awaits must not crash the runner.
    this.ready.catch(() => undefined);
  }

  request<T = unknown>(type: string, payload: Record<string, unknown> = {}, timeoutMs = 30_000): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`${this.label} has exited`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.label}: no reply to ${type} in ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.proc.send({ id, type, ...payload });
    });
  }

  /** Asks the child to shut down cleanly (so e.g. --cpu-prof writes its profile), then kills it. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.exited) return;
    try {
      await this.request('stop', {}, graceMs);
    } catch {
      // fall through to the kill below
    }
    const timer = setTimeout(() => {
      if (!this.exited) this.proc.kill('SIGKILL');
    }, graceMs);
    await this.exitPromise;
    clearTimeout(timer);
  }

  kill(): void {
    if (!this.exited) this.proc.kill('SIGKILL');
  }
}

const live = new Set<SystemChild>();

/** Every child still running (for the runner's emergency stop). */
export function liveChildren(): SystemChild[] {
  return [...live];
}

/** Registers a system for the emergency stop; call the returned function once it has exited. */
export function trackChild(child: SystemChild): () => void {
  live.add(child);
  return () => live.delete(child);
}

export function spawnChild(options: SpawnOptions): Child {
  const nodeArgs = [...(options.nodeArgs ?? []), '--import', 'tsx', options.entry];
  const pin = options.cpus !== undefined && tasksetAvailable();
  const command = pin ? 'taskset' : process.execPath;
  const args = pin ? ['-c', options.cpus as string, process.execPath, ...nodeArgs] : nodeArgs;
  const stdout = options.stdoutFile ? openSync(options.stdoutFile, 'a') : 'ignore';
  const proc = spawn(command, args, {
    cwd: process.cwd(),
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...options.env },
    stdio: ['ignore', stdout, 'pipe', 'ipc'],
  });
  const child = new Child(proc, options.label, pin, options.readyTimeoutMs ?? 60_000);
  const untrack = trackChild(child);
  proc.once('exit', untrack);
  return child;
}

// ---- child side ----------------------------------------------------------------------------

export type Handlers = Record<string, (message: IpcRequest) => unknown>;

/**
 * Child side: answers the parent's requests with `handlers`, reports `ready` with `info`, and exits
 * on `stop` (after `onStop`) or when the parent goes away.
 */
export function serveParent(
  info: Record<string, unknown>,
  handlers: Handlers,
  onStop: () => Promise<void>,
): void {
  const send = (message: unknown) => process.send?.(message);
  let stopping = false;
  const stop = async (id?: number) => {
    if (stopping) return;
    stopping = true;
    try {
      await onStop();
    } finally {
      if (id !== undefined) send({ id, ok: true });
      // Leave a moment for the reply to be flushed before exiting.
      setTimeout(() => process.exit(0), 50);
    }
  };
  process.on('message', (raw: unknown) => {
    const message = raw as IpcRequest;
    if (message.type === 'stop') {
      void stop(message.id);
      return;
    }
    const handler = handlers[message.type];
    if (!handler) {
      send({ id: message.id, ok: false, error: `unknown request ${message.type}` });
      return;
    }
    Promise.resolve()
      .then(() => handler(message))
      .then(
        (result) => send({ id: message.id, ok: true, result }),
        (error: unknown) =>
          send({ id: message.id, ok: false, error: error instanceof Error ? error.message : String(error) }),
      );
  });
  process.on('disconnect', () => void stop());
  send({ type: 'ready', ...info });
}

/** Child side: report a startup failure to the parent and exit. */
export function failStartup(error: unknown): void {
  const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.send?.({ type: 'failed', error: text });
  process.stderr.write(`${text}\n`);
  setTimeout(() => process.exit(1), 100);
}

// A local replica set: ONE set of provider simulators (in this process), N Junction child processes
// sharing Redis (REDIS_URL, one key prefix), the same webhook secrets, client-token secret and
// PUBLIC_BASE_URL, and HAProxy in front balancing HTTP and WebSocket with health checks on /readyz.
// Used by `npm run cluster` (src/cli/cluster/main.ts), the multi-process tests
// (test/helpers/cluster.ts) and bench S7. Everything listens on 127.0.0.1 only.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AnyProviderModule } from '../../providers/module.js';
import { type ProviderName, providerModules, SIMULATORS } from '../../providers/registry.js';
import type { RunningDemo } from '../../simulators/shared/demo.js';
import type { FaultRule } from '../../simulators/shared/faults.js';
import { deleteKeysUnder } from './cleanup.js';

/** The checkout root (src/cli/cluster/ is three levels down), so replicas start from any cwd. */
export const CHECKOUT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

export const HAPROXY_INSTALL_HINT =
  "HAProxy is not installed (or not on PATH). Install Debian's package: `sudo apt-get install -y haproxy` (Ubuntu/Debian), `brew install haproxy` (macOS); or set HAPROXY_BIN to its path. CI (.ci/run) installs it.";

/** Where HAProxy is, or undefined when it is missing. */
export function findHaproxy(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const candidates = [env.HAPROXY_BIN, 'haproxy', '/usr/sbin/haproxy', '/usr/local/sbin/haproxy'].filter(
    (c): c is string => typeof c === 'string' && c !== '',
  );
  for (const candidate of candidates) {
    const probe = spawnSync(candidate, ['-v'], { encoding: 'utf8', timeout: 5_000 });
    if (probe.status === 0 && /HAProxy|HA-Proxy/i.test(probe.stdout)) return candidate;
  }
  return undefined;
}

export interface ClusterOptions {
  /** Junction replicas, 1..16. */
  replicas: number;
  /** Redis every replica shares; required (the point of the cluster). */
  redisUrl: string;
  /** REDIS_KEY_PREFIX; default a fresh `junction-cluster:<random>:` per run. */
  keyPrefix?: string;
  /** The balancer's port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /**
   * How replicas run: `dist` (`node dist/main.js`, as `npm start`; built by `npm ci`/`npm run build`)
   * or `source` (`node --import tsx src/main.ts`). Default: dist when dist/main.js exists.
   */
  entry?: 'dist' | 'source';
  /** Environment every replica starts from (before the cluster's own variables). Default: PATH and HOME only. */
  baseEnv?: Record<string, string | undefined>;
  /** More variables for every replica (rate limits, TTLs, LOG_LEVEL...); win over the cluster's. */
  env?: Record<string, string>;
  /** Per replica (by index) variables, on top of `env`. */
  replicaEnv?: (index: number) => Record<string, string>;
  /** Options for each simulator (seeds, faults). */
  simulators?: Partial<Record<ProviderName, object>>;
  /** Faults every simulator applies. */
  faults?: FaultRule[];
  /** Where replica logs, HAProxy's config and the replicas' state go. Default: a new temp dir, removed on close. */
  workDir?: string;
  /** Longest wait for a replica (and the balancer) to answer /readyz. Default 60 s. */
  readyTimeoutMs?: number;
  /** HAProxy binary; default found on PATH (or HAPROXY_BIN). */
  haproxyBin?: string;
}

export interface Replica {
  readonly index: number;
  /** `r1`, `r2`... (HAProxy's server name). */
  readonly name: string;
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  readonly logFile: string;
  readonly alive: boolean;
  /** Sends a signal (SIGKILL for a crash, SIGTERM for a graceful stop). */
  kill(signal?: NodeJS.Signals): void;
  /** Resolves when the process has exited. */
  readonly exited: Promise<void>;
}

export interface Cluster {
  /** The balancer: http://127.0.0.1:<port>. GraphQL at `${url}/graphql`, WebSocket at ws://.../graphql. */
  readonly url: string;
  /** HAProxy's statistics page (append `;csv` for CSV). */
  readonly statsUrl: string;
  readonly replicas: Replica[];
  readonly keyPrefix: string;
  /** The HS256 secret every replica verifies client tokens with. */
  readonly jwtSecret: string;
  /** The environment every replica got (secrets included: never print it). */
  readonly replicaEnvironment: Record<string, string>;
  /** The running simulators, by provider. */
  readonly demos: Record<ProviderName, RunningDemo & Record<string, unknown>>;
  readonly haproxyPid: number;
  readonly workDir: string;
  /** HAProxy's view of each server: `UP`, `DOWN`, `MAINT`... by server name. */
  serverStatus(): Promise<Record<string, string>>;
  /** Stops HAProxy, every replica (SIGTERM, then SIGKILL after `graceMs`) and the simulators. */
  close(graceMs?: number): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (closed again at once: the caller binds it right after). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((ok) => server.close(() => ok()));
  return port;
}

/** A setting value as its environment variable spells it (lists comma-separated). */
function envValue(value: unknown): string {
  if (Array.isArray(value)) return value.map(String).join(',');
  if (value instanceof URL) return value.toString();
  return String(value);
}

/** The provider variables pointing a Junction at `demo` (its URL, credentials, webhook secrets). */
export function providerEnv(module: AnyProviderModule, demo: RunningDemo): Record<string, string> {
  const env: Record<string, string> = {};
  const remote = module.config.remote as Record<string, { name: string }>;
  const settings = module.config.settings as Record<string, { name: string }>;
  for (const [key, value] of Object.entries(demo.remote)) {
    const variable = remote[key];
    if (variable && value !== undefined) env[variable.name] = envValue(value);
  }
  for (const [key, value] of Object.entries(demo.settings ?? {})) {
    const variable = settings[key];
    if (variable && value !== undefined) env[variable.name] = envValue(value);
  }
  return env;
}

export function haproxyConfig(options: {
  port: number;
  statsPort: number;
  servers: { name: string; port: number }[];
}): string {
  const servers = options.servers.map((s) => `  server ${s.name} 127.0.0.1:${s.port} check`).join('\n');
  return `# Generated by src/cli/cluster: Junction replicas on loopback.
global
  maxconn 4096

defaults
  mode http
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  # WebSocket (graphql-ws): an upgraded connection may stay idle between pings.
  timeout tunnel 1h
  timeout http-keep-alive 10s
  # A request whose replica refused the connection goes to another one.
  option redispatch
  retries 2

frontend junction
  bind 127.0.0.1:${options.port}
  default_backend replicas

backend replicas
  balance roundrobin
  # Which replica answered (the server name, r1..rN): for people and tests, not for clients to rely on.
  http-response set-header x-served-by %s
  # /readyz answers 503 while a replica drains (SIGTERM): out of rotation before it stops.
  option httpchk GET /readyz
  http-check expect status 200
  # Checked every 500 ms, out after 2 failures (a killed replica is out within ~1 s), back after 2.
  default-server inter 500ms fastinter 250ms downinter 500ms fall 2 rise 2 observe layer4 error-limit 3 on-error fastinter
${servers}

listen stats
  bind 127.0.0.1:${options.statsPort}
  stats enable
  stats uri /stats
  stats refresh 2s
`;
}

/** The last lines of a log file, for an error message. */
function logTail(file: string, chars = 1500): string {
  try {
    return readFileSync(file, 'utf8').slice(-chars);
  } catch {
    return '';
  }
}

async function waitReady(
  url: string,
  timeoutMs: number,
  alive: () => boolean,
  what: string,
  logFile: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!alive()) throw new Error(`${what} exited before it was ready:\n${logTail(logFile)}`);
    try {
      const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline)
      throw new Error(`${what} not ready at ${url}/readyz after ${timeoutMs} ms:\n${logTail(logFile)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const count = options.replicas;
  if (!Number.isInteger(count) || count < 1 || count > 16) throw new Error('replicas: 1..16');
  const haproxyBin = options.haproxyBin ?? findHaproxy();
  if (haproxyBin === undefined) throw new Error(HAPROXY_INSTALL_HINT);
  const entry = options.entry ?? (existsSync(join(CHECKOUT_ROOT, 'dist/main.js')) ? 'dist' : 'source');
  const ownWorkDir = options.workDir === undefined;
  const workDir = options.workDir ?? mkdtempSync(join(tmpdir(), 'junction-cluster-'));
  mkdirSync(workDir, { recursive: true });
  const keyPrefix = options.keyPrefix ?? `junction-cluster:${randomBytes(6).toString('hex')}:`;
  const readyTimeoutMs = options.readyTimeoutMs ?? 60_000;
  const children: ChildProcess[] = [];
  const demos: Partial<Record<ProviderName, RunningDemo & Record<string, unknown>>> = {};

  const stopAll = async (graceMs: number) => {
    await Promise.all(
      children.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }),
    );
    await Promise.all(Object.values(demos).map((d) => d.simulator.close()));
    if (ownWorkDir) rmSync(workDir, { recursive: true, force: true });
    // A prefix of this run's own: nobody else can be using it.
    if (options.keyPrefix === undefined) await deleteKeysUnder(options.redisUrl, keyPrefix);
  };

  try {
    // One set of simulators, started as demo mode starts them (their own seed defaults: 1000 users).
    await Promise.all(
      providerModules.map(async (module) => {
        const name = module.name as ProviderName;
        const { startDemo } = await SIMULATORS[name]();
        demos[name] = (await (startDemo as (o: object) => Promise<RunningDemo>)({
          faults: options.faults ?? [],
          settings: {},
          simulator: options.simulators?.[name],
        })) as RunningDemo & Record<string, unknown>;
      }),
    );

    const port = options.port && options.port > 0 ? options.port : await freePort();
    const statsPort = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const jwtSecret = randomBytes(32).toString('base64url');
    const shared: Record<string, string> = {
      HOST: '127.0.0.1',
      REDIS_URL: options.redisUrl,
      REDIS_KEY_PREFIX: keyPrefix,
      PUBLIC_BASE_URL: url,
      JWT_SECRET: jwtSecret,
    };
    for (const module of providerModules)
      Object.assign(shared, providerEnv(module, demos[module.name as ProviderName] as RunningDemo));

    const baseEnv = Object.fromEntries(
      Object.entries(options.baseEnv ?? { PATH: process.env.PATH, HOME: process.env.HOME }).filter(
        (e): e is [string, string] => e[1] !== undefined,
      ),
    );
    const command =
      entry === 'dist'
        ? ['--enable-source-maps', join(CHECKOUT_ROOT, 'dist/main.js')]
        : ['--import', 'tsx', join(CHECKOUT_ROOT, 'src/main.ts')];
    const replicas: Replica[] = [];
    for (let index = 0; index < count; index++) {
      const replicaPort = await freePort();
      const name = `r${index + 1}`;
      const stateDir = join(workDir, name, 'state');
      mkdirSync(stateDir, { recursive: true });
      const logFile = join(workDir, `${name}.log`);
      const out = openSync(logFile, 'a');
      const env = {
        LOG_LEVEL: 'info',
        ...baseEnv,
        ...shared,
        // Demo-mode state (embedded database, generated keys) is per process: one directory each.
        JUNCTION_STATE_DIR: stateDir,
        ...options.env,
        ...options.replicaEnv?.(index),
        PORT: String(replicaPort),
      };
      const child = spawn(process.execPath, command, {
        cwd: CHECKOUT_ROOT,
        env,
        stdio: ['ignore', out, out],
      });
      if (child.pid === undefined) throw new Error(`${name}: failed to start`);
      children.push(child);
      const exited = new Promise<void>((ok) => {
        if (child.exitCode !== null) ok();
        else child.once('exit', () => ok());
      });
      replicas.push({
        index,
        name,
        url: `http://127.0.0.1:${replicaPort}`,
        port: replicaPort,
        pid: child.pid,
        logFile,
        get alive() {
          return child.exitCode === null && child.signalCode === null;
        },
        kill: (signal = 'SIGTERM') => {
          if (child.exitCode === null && child.signalCode === null) child.kill(signal);
        },
        exited,
      });
    }
    await Promise.all(
      replicas.map((r) => waitReady(r.url, readyTimeoutMs, () => r.alive, `replica ${r.name}`, r.logFile)),
    );

    const configFile = join(workDir, 'haproxy.cfg');
    writeFileSync(
      configFile,
      haproxyConfig({ port, statsPort, servers: replicas.map((r) => ({ name: r.name, port: r.port })) }),
    );
    const haproxyLogFile = join(workDir, 'haproxy.log');
    const haproxyLog = openSync(haproxyLogFile, 'a');
    // -db: stay in the foreground (stopped by its pid like every child).
    const haproxy = spawn(haproxyBin, ['-db', '-f', configFile], {
      stdio: ['ignore', haproxyLog, haproxyLog],
    });
    if (haproxy.pid === undefined) throw new Error('haproxy: failed to start');
    children.push(haproxy);
    const haproxyAlive = () => haproxy.exitCode === null && haproxy.signalCode === null;
    await waitReady(url, 15_000, haproxyAlive, 'haproxy', haproxyLogFile);

    // Webhooks and callbacks go to the balancer, as a provider would call a deployment.
    for (const demo of Object.values(demos)) demo.connectWebhooks?.(url);

    const statsUrl = `http://127.0.0.1:${statsPort}/stats`;
    return {
      url,
      statsUrl,
      replicas,
      keyPrefix,
      jwtSecret,
      replicaEnvironment: { ...shared, ...options.env },
      demos: demos as Record<ProviderName, RunningDemo & Record<string, unknown>>,
      haproxyPid: haproxy.pid,
      workDir,
      async serverStatus() {
        const res = await fetch(`${statsUrl};csv`, { signal: AbortSignal.timeout(2_000) });
        const lines = (await res.text()).split('\n');
        const header = (lines[0] ?? '').replace(/^# /, '').split(',');
        const at = (field: string) => header.indexOf(field);
        const out: Record<string, string> = {};
        for (const line of lines.slice(1)) {
          const cells = line.split(',');
          if (cells[at('pxname')] !== 'replicas') continue;
          const server = cells[at('svname')] ?? '';
          if (server === 'BACKEND' || server === 'FRONTEND') continue;
          out[server] = (cells[at('status')] ?? '').split(' ')[0] ?? '';
        }
        return out;
      },
      close: (graceMs = 10_000) => stopAll(graceMs),
    };
  } catch (error) {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await Promise.all(Object.values(demos).map((d) => d.simulator.close().catch(() => undefined)));
    if (ownWorkDir) rmSync(workDir, { recursive: true, force: true });
    throw error;
  }
}

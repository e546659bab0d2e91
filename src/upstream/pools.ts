// One undici Pool per upstream origin, built at startup and closed on shutdown. Connection caps and
// timeouts live here so that concurrency limits above can be sized against them.
import { Pool } from 'undici';
import { upstreamDefaults } from './config.js';

/** Defaults are the config's (upstream/config.ts); the headers and body timeouts are the attempt timeout's. */
export interface PoolOptions {
  /** Maximum sockets per origin (UPSTREAM_CONNECTIONS). Size the provider's concurrency limit to at most this. */
  connections: number;
  /** How long an idle keep-alive socket stays open, in ms (UPSTREAM_KEEPALIVE_MS). */
  keepAliveTimeoutMs: number;
  /** TCP (and TLS) connect timeout in ms (UPSTREAM_CONNECT_TIMEOUT_MS). */
  connectTimeoutMs: number;
  /** Time allowed from sending the request to receiving all response headers, in ms (UPSTREAM_TIMEOUT_MS). */
  headersTimeoutMs: number;
  /** Maximum idle time between two body chunks, in ms (UPSTREAM_TIMEOUT_MS). */
  bodyTimeoutMs: number;
}

const DEFAULTS = upstreamDefaults();

export const defaultPoolOptions: PoolOptions = {
  connections: DEFAULTS.connections,
  keepAliveTimeoutMs: DEFAULTS.keepAliveTimeoutMs,
  connectTimeoutMs: DEFAULTS.connectTimeoutMs,
  headersTimeoutMs: DEFAULTS.attemptTimeoutMs,
  bodyTimeoutMs: DEFAULTS.attemptTimeoutMs,
};

export class PoolRegistry {
  private readonly pools = new Map<string, Pool>();
  private closed = false;

  constructor(private readonly options: PoolOptions = defaultPoolOptions) {}

  /** The pool for `url`'s origin, created on first use. */
  get(url: string | URL): Pool {
    if (this.closed) throw new Error('PoolRegistry is closed: no new upstream connections during shutdown');
    const origin = new URL(url).origin;
    let pool = this.pools.get(origin);
    if (!pool) {
      pool = new Pool(origin, {
        connections: this.options.connections,
        keepAliveTimeout: this.options.keepAliveTimeoutMs,
        connectTimeout: this.options.connectTimeoutMs,
        headersTimeout: this.options.headersTimeoutMs,
        bodyTimeout: this.options.bodyTimeoutMs,
        pipelining: 1,
      });
      this.pools.set(origin, pool);
    }
    return pool;
  }

  /** Per-origin counters (connected, free, pending, running, queued): for readiness and metrics. */
  stats(): Record<
    string,
    { connected: number; free: number; pending: number; running: number; queued: number }
  > {
    const out: Record<
      string,
      { connected: number; free: number; pending: number; running: number; queued: number }
    > = {};
    for (const [origin, pool] of this.pools) {
      const s = pool.stats;
      out[origin] = {
        connected: s.connected,
        free: s.free,
        pending: s.pending,
        running: s.running,
        queued: s.queued,
      };
    }
    return out;
  }

  /** Lets requests in flight finish, then closes every socket. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.pools.values()].map((p) => p.close()));
    this.pools.clear();
  }

  /** Closes at once, failing requests still in flight (used when the shutdown grace ran out). */
  async destroy(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.pools.values()].map((p) => p.destroy()));
    this.pools.clear();
  }
}

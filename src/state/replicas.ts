// Which replicas are alive: each writes a heartbeat key `<prefix>replicas:<id>` that expires unless
// refreshed, and indexes it in a sorted set (score = expiry) so counting needs no key scan. The last
// count seen is kept while Redis is down: local rate budgets are then the limit divided by it.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { globalTimers, LuaScript, type RedisConnection, type StateTimers } from './redis.js';

/** How many replicas share the provider budgets; 1 without Redis. */
export interface ReplicaCount {
  /** Live replicas last seen (this one included), at least 1. */
  readonly count: number;
}

// KEYS: heartbeat key, index. ARGV: id, ttl ms. Server time: one clock for every replica.
const HEARTBEAT = new LuaScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('SET', KEYS[1], now, 'PX', ttl)
redis.call('ZADD', KEYS[2], now + ttl, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
redis.call('PEXPIRE', KEYS[2], ttl * 2)
return redis.call('ZCARD', KEYS[2])
`);

export interface ReplicaRegistryOptions {
  connection: RedisConnection;
  /** This replica's id. Default: host name, pid and a random suffix. */
  id?: string | undefined;
  /** How often the heartbeat is refreshed, in ms. */
  heartbeatIntervalMs: number;
  /** Heartbeat lifetime, in ms. Trap: keep it a few intervals long, or a slow beat drops a live replica. */
  ttlMs: number;
  /** Count to assume before Redis ever answered. Default 1. */
  initialCount?: number | undefined;
  /** Called when the count changes. */
  onCount?: ((count: number) => void) | undefined;
  timers?: StateTimers | undefined;
}

export class ReplicaRegistry implements ReplicaCount {
  readonly id: string;
  private readonly connection: RedisConnection;
  private readonly options: ReplicaRegistryOptions;
  private readonly timers: StateTimers;
  private lastCount: number;
  private timer: unknown;
  private running = false;
  private inFlight: Promise<number> | undefined;
  private readonly stopListening: () => void;

  constructor(options: ReplicaRegistryOptions) {
    if (!(options.ttlMs > options.heartbeatIntervalMs))
      throw new RangeError(
        `replica ttlMs must exceed heartbeatIntervalMs, got ${options.ttlMs} <= ${options.heartbeatIntervalMs}`,
      );
    this.options = options;
    this.connection = options.connection;
    this.timers = options.timers ?? globalTimers;
    this.id = options.id ?? `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
    this.lastCount = Math.max(1, options.initialCount ?? 1);
    // Announce at once when Redis comes (back), rather than up to one interval later.
    this.stopListening = this.connection.onStateChange((change) => {
      if (change.state === 'up' && this.running) void this.beat();
    });
  }

  get count(): number {
    return this.lastCount;
  }

  /** Starts heartbeating (the first beat is awaited, bounded by the command timeout). */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    await this.beat();
  }

  /** One heartbeat now; resolves to the live count (the last known one when Redis does not answer). */
  beat(): Promise<number> {
    this.inFlight ??= this.beatOnce().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async beatOnce(): Promise<number> {
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    try {
      const count = Number(
        await this.connection.run((client) =>
          HEARTBEAT.run(
            client,
            [this.connection.key('replicas', this.id), this.connection.key('replicas')],
            [this.id, this.options.ttlMs],
          ),
        ),
      );
      if (Number.isInteger(count) && count >= 1 && count !== this.lastCount) {
        this.lastCount = count;
        this.options.onCount?.(count);
      }
    } catch {
      // Keep the last known count: it divides the local budgets while Redis is away.
    } finally {
      if (this.running) {
        this.timer = this.timers.setTimeout(() => void this.beat(), this.options.heartbeatIntervalMs);
      }
    }
    return this.lastCount;
  }

  /** Stops heartbeating and removes this replica at once (others then count one fewer). */
  async stop(): Promise<void> {
    this.running = false;
    this.stopListening();
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    await this.connection
      .run((client) =>
        client
          .multi()
          .del(this.connection.key('replicas', this.id))
          .zrem(this.connection.key('replicas'), this.id)
          .exec(),
      )
      .catch(() => {});
  }
}

/** The count without Redis: one process. */
export const SINGLE_REPLICA: ReplicaCount = { count: 1 };

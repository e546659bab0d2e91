// The one Redis connection every shared store uses. It fails fast (a short command timeout, no offline
// queue), reconnects forever with capped back-off, and keeps a health state: `up`, or `degraded` while
// Redis is unreachable, slow or not yet connected. Stores ask `run()`/`guard()` and fall back to their
// local twin whenever Redis does not answer in time, so no request waits long on Redis.
import { createHash } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';

export type RedisHealth = 'up' | 'degraded';

/** One state change, as the metric callback and the listeners see it. Carries no URL and no secret. */
export interface RedisStateChange {
  state: RedisHealth;
  previous: RedisHealth;
  /** Why: `connected`, `answering again`, `connection closed`, `timeout`, or an error code such as ECONNREFUSED. */
  reason: string;
}

/** The few logger methods the connection uses (pino's Logger fits). */
export interface StateLogger {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
}

export interface StateTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

// Looked up at call time, so fake timers installed after import still apply.
export const globalTimers: StateTimers = {
  setTimeout: (fn, ms) => {
    const handle = setTimeout(fn, ms);
    handle.unref?.();
    return handle;
  },
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export interface RedisConnectionOptions {
  /** `redis://` or `rediss://` URL, credentials and database included. A secret: never logged. */
  url: string;
  /** Starts every key and channel (REDIS_KEY_PREFIX), e.g. `junction:`. */
  keyPrefix: string;
  /** Longest one Redis call may take before the store uses its local twin, in ms (REDIS_COMMAND_TIMEOUT_MS). */
  commandTimeoutMs: number;
  /** Limit of one connection attempt, in ms. */
  connectTimeoutMs: number;
  /** Reconnect back-off cap, in ms. Trap: back-off doubles from 50 ms and never gives up. */
  reconnectMaxDelayMs: number;
  /** While degraded on a live socket (Redis slow rather than gone), how often a PING checks it again, in ms. */
  probeIntervalMs: number;
  /** One line per state change. Default: none. */
  logger?: StateLogger | undefined;
  /** Called once per state change (metrics). */
  onStateChange?: ((change: RedisStateChange) => void) | undefined;
  /** Timers. Default: the global ones at call time. */
  timers?: StateTimers | undefined;
  /** Extra ioredis options (tests). Trap: they override the fail-fast settings above. */
  redisOptions?: Partial<RedisOptions> | undefined;
}

/** Redis did not answer (degraded, timed out, connection lost): use local state instead. */
export class RedisUnavailableError extends Error {
  readonly code = 'REDIS_UNAVAILABLE';
  constructor(
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`Redis unavailable: ${reason}`, options);
    this.name = 'RedisUnavailableError';
  }
}

export function isRedisUnavailableError(error: unknown): error is RedisUnavailableError {
  return error instanceof RedisUnavailableError;
}

/** A Lua script run by SHA (EVALSHA), sent whole (EVAL) only when Redis does not know it yet (NOSCRIPT). */
export class LuaScript {
  readonly sha: string;
  constructor(readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  /** Runs the script; with `buffers`, bulk replies come back as Buffers (binary values) instead of strings. */
  async run(
    client: Redis,
    keys: readonly string[],
    args: readonly (string | number | Buffer)[],
    options: { buffers?: boolean } = {},
  ): Promise<unknown> {
    const send = (command: string, first: string) => {
      const argv = [first, keys.length, ...keys, ...args];
      return options.buffers ? client.callBuffer(command, argv) : client.call(command, argv);
    };
    try {
      return await send('EVALSHA', this.sha);
    } catch (error) {
      if (!isReplyError(error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return await send('EVAL', this.source);
    }
  }
}

// Replies that mean the server cannot serve now: treated like a lost connection.
const UNAVAILABLE_REPLIES = ['LOADING', 'BUSY', 'MASTERDOWN', 'TRYAGAIN', 'CLUSTERDOWN', 'READONLY'];
// Key parts longer than this are hashed: keys stay short whatever a client or provider sent.
const MAX_KEY_PART = 128;

function isReplyError(error: unknown): error is Error {
  return error instanceof Error && error.name === 'ReplyError';
}

/** The target without credentials, for logs: `redis://host:port/db`. */
export function describeRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    const db = parsed.pathname.length > 1 ? parsed.pathname : '';
    return `${parsed.protocol}//${parsed.hostname}${parsed.port ? `:${parsed.port}` : ''}${db}`;
  } catch {
    return 'redis (unparseable URL)';
  }
}

/** The back-off before reconnect attempt `times` (1, 2, ...), in ms: doubling from 50 ms to `maxMs`, plus jitter. */
export function reconnectDelayMs(times: number, maxMs: number, random: () => number = Math.random): number {
  const base = Math.min(maxMs, 50 * 2 ** Math.min(Math.max(0, times - 1), 16));
  return Math.max(1, Math.round(base * (0.8 + 0.2 * random())));
}

export class RedisConnection {
  /** The command connection (rate-limiter-flexible builds its store over it). */
  readonly client: Redis;
  readonly keyPrefix: string;
  readonly commandTimeoutMs: number;
  /** The target without credentials. */
  readonly target: string;
  private readonly options: RedisConnectionOptions;
  private readonly timers: StateTimers;
  private health: RedisHealth = 'degraded';
  private everUp = false;
  private reportedStartupFailure = false;
  private lastErrorCode: string | undefined;
  private probeTimer: unknown;
  private closed = false;
  private readonly listeners = new Set<(change: RedisStateChange) => void>();
  private subscriber: Redis | undefined;
  private readonly channelHandlers = new Map<string, Set<(message: Buffer) => void>>();
  private readonly resubscribeListeners = new Set<() => void>();
  private subscriberEverReady = false;
  /** Channels Redis confirmed on the current subscriber socket. */
  private readonly confirmed = new Set<string>();
  private readonly loggedReplyErrors = new Set<string>();

  constructor(options: RedisConnectionOptions) {
    this.options = options;
    this.keyPrefix = options.keyPrefix;
    this.commandTimeoutMs = options.commandTimeoutMs;
    this.timers = options.timers ?? globalTimers;
    this.target = describeRedisUrl(options.url);
    this.client = new Redis(options.url, this.redisOptions('junction'));
    this.client.on('ready', () => this.setState('up', this.everUp ? 'connected again' : 'connected'));
    this.client.on('close', () => this.setState('degraded', this.lastErrorCode ?? 'connection closed'));
    this.client.on('error', (error: Error & { code?: string }) => {
      // ioredis reports every failed attempt; the state change (or the startup line) says it once.
      this.lastErrorCode = error.code ?? error.name;
      if (!this.everUp && !this.reportedStartupFailure && !this.closed) {
        this.reportedStartupFailure = true;
        this.options.logger?.warn(
          { redis: this.target, reason: this.lastErrorCode },
          'Redis unreachable; shared state runs on local fallbacks until it answers',
        );
      }
    });
  }

  /** `up` when Redis answers; `degraded` while every store uses its local twin. */
  get state(): RedisHealth {
    return this.health;
  }

  /** True once Redis has answered at least once since start. */
  get hasBeenUp(): boolean {
    return this.everUp;
  }

  /** A key in this deployment's namespace: the prefix, then the parts joined by `:` (long parts hashed). */
  key(...parts: string[]): string {
    return this.keyPrefix + parts.map(keyPart).join(':');
  }

  /** Listens to state changes; returns the unsubscribe function. */
  onStateChange(listener: (change: RedisStateChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves true when Redis is up, or false after `timeoutMs` (startup uses it to begin shared). */
  waitUntilUp(timeoutMs: number): Promise<boolean> {
    if (this.health === 'up') return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = this.timers.setTimeout(() => {
        stop();
        resolve(false);
      }, timeoutMs);
      const stop = this.onStateChange((change) => {
        if (change.state !== 'up') return;
        this.timers.clearTimeout(timer);
        stop();
        resolve(true);
      });
    });
  }

  /**
   * Runs `op` on the command connection within `timeoutMs` (default: the command timeout). Rejects with
   * RedisUnavailableError at once while degraded, and when Redis fails or is too slow (which degrades
   * it). A Redis error reply (a bug or a full Redis, not an outage) is passed through as it is.
   */
  async run<T>(op: (client: Redis) => Promise<T>, timeoutMs: number = this.commandTimeoutMs): Promise<T> {
    if (this.health !== 'up') throw new RedisUnavailableError(this.closed ? 'closed' : 'degraded');
    let timer: unknown;
    const deadline = new Promise<never>((_, reject) => {
      timer = this.timers.setTimeout(() => reject(new RedisUnavailableError('timeout')), timeoutMs);
    });
    const work = op(this.client);
    try {
      return await Promise.race([work, deadline]);
    } catch (error) {
      // The losing side of the race may still reject later: nobody waits for it any more.
      work.catch(() => {});
      throw this.noteFailure(error);
    } finally {
      this.timers.clearTimeout(timer);
    }
  }

  /**
   * Takes note of a failed call made outside run() (a library using the client directly): an outage
   * or a timeout degrades the connection as run() would. Returns the error to throw.
   */
  noteFailure(error: unknown): Error {
    if (isRedisUnavailableError(error)) {
      this.fail(error.reason);
      return error;
    }
    if (isReplyError(error) && !UNAVAILABLE_REPLIES.some((p) => error.message.startsWith(p))) {
      this.noteReplyError(error);
      return error;
    }
    const reason = (error as { code?: string }).code ?? (error as Error).name ?? 'error';
    this.fail(reason);
    return new RedisUnavailableError(reason, { cause: error });
  }

  /** `run(op)`, or `fallback()` whenever Redis does not answer (or answers with an error). */
  async guard<T>(
    op: (client: Redis) => Promise<T>,
    fallback: () => T | Promise<T>,
    timeoutMs?: number,
  ): Promise<T> {
    try {
      return await this.run(op, timeoutMs);
    } catch {
      return await fallback();
    }
  }

  /** PUBLISH on a channel of this namespace (`channel` is prefixed). */
  async publish(channel: string, message: Buffer | string): Promise<number> {
    return this.run((client) => client.publish(this.key(channel), message));
  }

  /**
   * Delivers every message of `channel` (prefixed) to `handler`, over one subscriber connection per
   * process (opened on first use, resubscribed after every reconnect). Returns the unsubscribe function.
   */
  subscribe(channel: string, handler: (message: Buffer) => void): () => void {
    const name = this.key(channel);
    let handlers = this.channelHandlers.get(name);
    if (!handlers) {
      handlers = new Set();
      this.channelHandlers.set(name, handlers);
      void this.subscribeChannel(this.subscriberClient(), name);
    }
    handlers.add(handler);
    return () => {
      const set = this.channelHandlers.get(name);
      if (!set) return;
      set.delete(handler);
      if (set.size === 0) {
        this.channelHandlers.delete(name);
        this.confirmed.delete(name);
        this.subscriber?.unsubscribe(name).catch(() => {});
      }
    };
  }

  /** True while Redis confirmed this process's subscription to `channel`: messages on it arrive here. */
  isSubscribed(channel: string): boolean {
    return this.subscriber?.status === 'ready' && this.confirmed.has(this.key(channel));
  }

  /**
   * Called each time the subscriber connection is (re)established after the first time: messages
   * published meanwhile were lost, so local copies of shared state may be stale.
   */
  onResubscribed(listener: () => void): () => void {
    this.resubscribeListeners.add(listener);
    return () => this.resubscribeListeners.delete(listener);
  }

  /** Closes both connections; stores fall back to local state from then on. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.probeTimer !== undefined) this.timers.clearTimeout(this.probeTimer);
    this.probeTimer = undefined;
    this.setState('degraded', 'closed');
    await Promise.all([quit(this.client), this.subscriber ? quit(this.subscriber) : undefined]);
  }

  private redisOptions(name: string): RedisOptions {
    const { options } = this;
    return {
      connectionName: name,
      commandTimeout: options.commandTimeoutMs,
      connectTimeout: options.connectTimeoutMs,
      // Fail fast: a command while disconnected errors at once instead of waiting for a reconnect.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: (times) => reconnectDelayMs(times, options.reconnectMaxDelayMs),
      // Nothing is loaded from disk: Redis is a shared scratchpad here, persistence is not needed.
      enableReadyCheck: true,
      ...options.redisOptions,
    };
  }

  private subscriberClient(): Redis {
    if (this.subscriber) return this.subscriber;
    // The subscriber queues its SUBSCRIBE commands until connected; it carries no request traffic.
    // It resubscribes itself after a reconnect, so it knows when each channel is confirmed again.
    const subscriber = this.client.duplicate({
      ...this.redisOptions('junction-subscriber'),
      enableOfflineQueue: true,
      autoResubscribe: false,
    });
    subscriber.on('error', () => {}); // the command connection's state reports outages
    subscriber.on('close', () => this.confirmed.clear());
    subscriber.on('ready', () => {
      const again = this.subscriberEverReady;
      this.subscriberEverReady = true;
      const names = [...this.channelHandlers.keys()];
      void Promise.all(names.map((name) => this.subscribeChannel(subscriber, name))).then(() => {
        // Messages published while this socket was away are lost: local copies may be stale.
        if (again) for (const listener of [...this.resubscribeListeners]) listener();
      });
    });
    subscriber.on('messageBuffer', (channel: Buffer, message: Buffer) => {
      const handlers = this.channelHandlers.get(channel.toString());
      if (!handlers) return;
      for (const handler of handlers) {
        try {
          handler(message);
        } catch {
          // One bad handler must not starve the others.
        }
      }
    });
    this.subscriber = subscriber;
    return subscriber;
  }

  private async subscribeChannel(subscriber: Redis, name: string): Promise<void> {
    try {
      await subscriber.subscribe(name);
      if (this.channelHandlers.has(name)) this.confirmed.add(name);
    } catch {
      // Not connected: the next 'ready' subscribes again.
    }
  }

  private fail(reason: string): void {
    this.setState('degraded', reason);
  }

  private setState(state: RedisHealth, reason: string): void {
    if (this.closed && state === 'up') return;
    if (state === 'up') this.everUp = true;
    if (state === this.health) {
      if (state === 'degraded') this.scheduleProbe();
      return;
    }
    const previous = this.health;
    this.health = state;
    const change: RedisStateChange = { state, previous, reason };
    if (state === 'up') {
      this.lastErrorCode = undefined;
      this.options.logger?.info({ redis: this.target, reason }, 'Redis up: replicas share state');
    } else if (reason !== 'closed') {
      this.options.logger?.warn(
        { redis: this.target, reason },
        'Redis degraded: shared state falls back to local state until Redis answers',
      );
    }
    this.options.onStateChange?.(change);
    for (const listener of [...this.listeners]) listener(change);
    if (state === 'degraded') this.scheduleProbe();
  }

  /** While degraded on a live socket, PING now and then; a reconnect ('ready') needs no probe. */
  private scheduleProbe(): void {
    if (this.probeTimer !== undefined || this.closed) return;
    this.probeTimer = this.timers.setTimeout(() => {
      this.probeTimer = undefined;
      if (this.health === 'up' || this.closed) return;
      if (this.client.status !== 'ready') {
        this.scheduleProbe();
        return;
      }
      let timer: unknown;
      const deadline = new Promise<never>((_, reject) => {
        timer = this.timers.setTimeout(() => reject(new Error('timeout')), this.commandTimeoutMs);
      });
      const ping = this.client.ping();
      Promise.race([ping, deadline])
        .then(() => this.setState('up', 'answering again'))
        .catch(() => {
          ping.catch(() => {});
          this.scheduleProbe();
        })
        .finally(() => this.timers.clearTimeout(timer));
    }, this.options.probeIntervalMs);
  }

  private noteReplyError(error: Error): void {
    const kind = error.message.split(' ')[0] ?? 'ERR';
    if (this.loggedReplyErrors.has(kind)) return;
    this.loggedReplyErrors.add(kind);
    this.options.logger?.warn(
      { redis: this.target, reply: kind },
      'Redis refused a command; that call used local state (logged once per kind)',
    );
  }
}

function keyPart(part: string): string {
  if (part.length <= MAX_KEY_PART) return part;
  return `#${createHash('sha256').update(part).digest('base64url')}`;
}

async function quit(client: Redis): Promise<void> {
  if (client.status === 'end') return;
  if (client.status !== 'ready') {
    client.disconnect();
    return;
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      client.quit(),
      new Promise((resolve) => {
        timer = setTimeout(resolve, 500);
      }),
    ]);
  } catch {
    // Already closing.
  } finally {
    clearTimeout(timer);
    client.disconnect();
  }
}

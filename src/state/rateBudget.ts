// Provider rate budgets: one adaptive token bucket per provider credential. In-process it is the
// bucket AdaptiveRateLimiter has always kept; with Redis it is one bucket for all replicas, updated by
// one atomic Lua script on Redis' clock, so their combined rate never exceeds the limit and a 429 or
// a rate-limit header seen by one replica slows them all. The budget answers "granted" or "retry in
// N ms" and never sleeps: the FIFO waiter queue stays in the limiter of each replica.
import { LRUCache } from 'lru-cache';
import { LuaScript, type RedisConnection, type RedisStateChange } from './redis.js';
import type { ReplicaCount } from './replicas.js';

/** The bucket of one provider credential, as the limiter configures it. */
export interface BucketSpec {
  /** Configured refill rate, in requests per second (what the bucket climbs back to). Must be > 0. */
  ratePerSecond: number;
  /** Bucket size. Trap: a bucket grants burst + rate in one second; split a limit N as 10 % burst + 90 % rate. */
  burst: number;
  /** Floor of the 429 halving, in requests per second. Trap: RateLimit-* headers may slow below it. */
  minRatePerSecond: number;
  /** Share of the configured rate regained per second without throttling signals (0.1 = 10 %/s). */
  recoveryPerSecond: number;
  /** Longest pause or slowed window any signal can impose, in ms (RATE_LIMIT_MAX_PAUSE_MS). */
  maxPauseMs: number;
}

/** A provider's throttling signal, already read from its headers by the limiter. */
export interface ThrottleSignal {
  /** A 429: halve the rate (not below the floor) and empty the bucket. */
  halve?: boolean | undefined;
  /** Send nothing for this long, in ms (Retry-After on a 429, an exhausted window). Cut to maxPauseMs. */
  pauseMs?: number | undefined;
  /** Few requests left: spread `remaining` over `windowMs` (cut to maxPauseMs); 0 left pauses the window. */
  spread?: { remaining: number; windowMs: number } | undefined;
}

export type BudgetAnswer =
  | { granted: true; shared: boolean; ratePerSecond: number; tokens: number }
  | {
      granted: false;
      shared: boolean;
      ratePerSecond: number;
      tokens: number;
      /** When to try again, in ms (the next token, or the end of a pause). */
      retryAfterMs: number;
    };

export interface BudgetSnapshot {
  /** True when the answer came from the shared (Redis) bucket. */
  shared: boolean;
  /** Rate in force, in requests per second (for this replica while local). */
  ratePerSecond: number;
  tokens: number;
  /** Ms left of a pause a provider imposed; 0 when none. */
  pauseRemainingMs: number;
}

export interface RateBudget {
  /** True when the budget is shared by replicas (Redis), false in-process. */
  readonly distributed: boolean;
  /** Takes one token from `bucket` now, or says how long until one may be there. */
  take(bucket: string, spec: BucketSpec): Promise<BudgetAnswer>;
  /** Applies a provider's throttling signal to `bucket` (every replica sees it when shared). */
  throttle(bucket: string, spec: BucketSpec, signal: ThrottleSignal): Promise<void>;
  /** The bucket now, without taking anything. */
  snapshot(bucket: string, spec: BucketSpec): Promise<BudgetSnapshot>;
}

/** The bucket's state; times in epoch ms of the clock that updates it. */
export interface BucketState {
  tokens: number;
  /** Last refill. */
  at: number;
  /** Rate in force, in requests per second. */
  rate: number;
  pausedUntil: number;
  /** No additive recovery before this instant. */
  throttledUntil: number;
}

// Float dust (0.9999999 tokens) must not cost a whole extra round.
const EPSILON = 1e-9;
/**
 * Buckets (and their links) kept in this process, most recently used first. Per-credential buckets
 * (one per connected user) would otherwise grow without bound; a forgotten one starts full locally,
 * and the shared bucket in Redis keeps its own state (with its TTL).
 */
const MAX_LOCAL_BUCKETS = 20_000;

/** Checks a spec up front: the message says what was expected and what came. */
export function checkSpec(spec: BucketSpec): void {
  const positive = (name: string, value: number, min: number) => {
    if (!(Number.isFinite(value) && value >= min))
      throw new RangeError(`rate budget ${name} must be a finite number >= ${min}, got ${value}`);
  };
  positive('ratePerSecond', spec.ratePerSecond, Number.MIN_VALUE);
  positive('burst', spec.burst, 1);
  positive('minRatePerSecond', spec.minRatePerSecond, Number.MIN_VALUE);
  positive('recoveryPerSecond', spec.recoveryPerSecond, 0);
  positive('maxPauseMs', spec.maxPauseMs, 0);
}

/** Bounds a signal before it can change a bucket: no NaN, nothing negative, nothing past maxPauseMs. */
function boundSignal(
  signal: ThrottleSignal,
  maxPauseMs: number,
): Required<Omit<ThrottleSignal, 'spread'>> & {
  spreadRemaining: number;
  spreadWindowMs: number;
} {
  const ms = (value: number | undefined) =>
    value !== undefined && Number.isFinite(value) && value > 0 ? Math.min(value, maxPauseMs) : 0;
  const remaining = signal.spread?.remaining;
  return {
    halve: signal.halve === true,
    pauseMs: ms(signal.pauseMs),
    spreadRemaining: remaining !== undefined && Number.isFinite(remaining) ? Math.max(0, remaining) : -1,
    spreadWindowMs: ms(signal.spread?.windowMs),
  };
}

/** Refill as AdaptiveRateLimiter does: accrue at the rate that held, then recover additively. */
export function refill(state: BucketState, spec: BucketSpec, now: number): void {
  state.rate = Math.min(state.rate, spec.ratePerSecond);
  const from = Math.max(state.at, state.pausedUntil);
  if (now > from) {
    state.tokens = Math.min(spec.burst, state.tokens + ((now - from) / 1000) * state.rate);
    const recoverFrom = Math.max(from, state.throttledUntil);
    if (now > recoverFrom && state.rate < spec.ratePerSecond) {
      const gain = ((now - recoverFrom) / 1000) * spec.recoveryPerSecond * spec.ratePerSecond;
      state.rate = Math.min(spec.ratePerSecond, state.rate + gain);
    }
  }
  state.tokens = Math.min(state.tokens, spec.burst);
  state.at = Math.max(state.at, now);
}

export function freshState(spec: BucketSpec, now: number): BucketState {
  return { tokens: spec.burst, at: now, rate: spec.ratePerSecond, pausedUntil: 0, throttledUntil: 0 };
}

/** One take on `state` at `now` (mutates it); the same arithmetic as the Lua script below. */
export function takeFrom(
  state: BucketState,
  spec: BucketSpec,
  now: number,
  debt: number,
): { granted: boolean; waitMs: number } {
  refill(state, spec, now);
  state.tokens -= debt;
  if (now >= state.pausedUntil && state.tokens >= 1 - EPSILON) {
    state.tokens -= 1;
    return { granted: true, waitMs: 0 };
  }
  const start = Math.max(now, state.pausedUntil);
  return { granted: false, waitMs: start - now + (Math.max(0, 1 - state.tokens) / state.rate) * 1000 };
}

/** Applies a (bounded) signal to `state` at `now`; the same arithmetic as the Lua script below. */
export function throttleState(
  state: BucketState,
  spec: BucketSpec,
  now: number,
  signal: ThrottleSignal,
): void {
  const s = boundSignal(signal, spec.maxPauseMs);
  refill(state, spec, now);
  const pause = (until: number) => {
    state.pausedUntil = Math.max(state.pausedUntil, until);
    state.throttledUntil = Math.max(state.throttledUntil, state.pausedUntil);
    state.tokens = Math.min(state.tokens, 0);
  };
  if (s.halve) {
    // Multiplicative decrease; the floor never raises a rate that headers already set lower.
    state.rate = Math.min(state.rate, Math.max(spec.minRatePerSecond, state.rate * 0.5));
    state.tokens = Math.min(state.tokens, 0);
    state.throttledUntil = Math.max(state.throttledUntil, now);
  }
  if (s.pauseMs > 0) pause(now + s.pauseMs);
  if (s.spreadRemaining >= 0 && s.spreadWindowMs > 0) {
    if (s.spreadRemaining <= 0) {
      pause(now + s.spreadWindowMs);
    } else {
      state.rate = Math.min(state.rate, s.spreadRemaining / (s.spreadWindowMs / 1000));
      state.tokens = Math.min(state.tokens, s.spreadRemaining);
    }
    state.throttledUntil = Math.max(state.throttledUntil, now + s.spreadWindowMs);
  }
}

export interface LocalRateBudgetOptions {
  /** Clock in epoch ms. Default Date.now. */
  now?: (() => number) | undefined;
}

/** In-process buckets: what one Junction process has always done. */
export class LocalRateBudget implements RateBudget {
  readonly distributed = false;
  private readonly now: () => number;
  private readonly buckets = new LRUCache<string, BucketState>({ max: MAX_LOCAL_BUCKETS });

  constructor(options: LocalRateBudgetOptions = {}) {
    this.now = options.now ?? Date.now;
  }

  async take(bucket: string, spec: BucketSpec): Promise<BudgetAnswer> {
    return this.takeNow(bucket, spec);
  }

  /**
   * The synchronous take; `debt` tokens are charged first (the bucket may go below zero): tokens
   * spent elsewhere, when the Redis budget carries a bucket over.
   */
  takeNow(bucket: string, spec: BucketSpec, debt = 0): BudgetAnswer {
    checkSpec(spec);
    const state = this.state(bucket, spec);
    const { granted, waitMs } = takeFrom(state, spec, this.now(), Math.max(0, debt));
    const common = { shared: false, ratePerSecond: state.rate, tokens: state.tokens };
    return granted ? { granted: true, ...common } : { granted: false, ...common, retryAfterMs: waitMs };
  }

  async throttle(bucket: string, spec: BucketSpec, signal: ThrottleSignal): Promise<void> {
    this.throttleNow(bucket, spec, signal);
  }

  throttleNow(bucket: string, spec: BucketSpec, signal: ThrottleSignal): void {
    checkSpec(spec);
    throttleState(this.state(bucket, spec), spec, this.now(), signal);
  }

  async snapshot(bucket: string, spec: BucketSpec): Promise<BudgetSnapshot> {
    checkSpec(spec);
    const now = this.now();
    const state = { ...(this.buckets.get(bucket) ?? freshState(spec, now)) };
    refill(state, spec, now);
    return {
      shared: false,
      ratePerSecond: state.rate,
      tokens: state.tokens,
      pauseRemainingMs: Math.max(0, state.pausedUntil - now),
    };
  }

  /** Whole and fractional tokens in `bucket` now (a bucket never used is full). */
  tokensNow(bucket: string, spec: BucketSpec): number {
    const now = this.now();
    const state = { ...(this.buckets.get(bucket) ?? freshState(spec, now)) };
    refill(state, spec, now);
    return state.tokens;
  }

  /** Replaces a bucket's state (the Redis budget seeds its fallback from the shared bucket). */
  adopt(bucket: string, state: BucketState): void {
    this.buckets.set(bucket, { ...state });
  }

  /** True when `bucket` has state here (it was used and not forgotten). */
  has(bucket: string): boolean {
    return this.buckets.has(bucket);
  }

  /** Forgets a bucket (it starts full next time). */
  forget(bucket: string): void {
    this.buckets.delete(bucket);
  }

  private state(bucket: string, spec: BucketSpec): BucketState {
    let state = this.buckets.get(bucket);
    if (!state) {
      state = freshState(spec, this.now());
      this.buckets.set(bucket, state);
    }
    return state;
  }
}

// The bucket script: the arithmetic of refill/takeFrom/throttleState above, atomically on one hash.
// KEYS[1]: the bucket. ARGV: op (take | throttle | peek), now ('' = Redis' clock), rate, burst,
// minRate, recovery, maxPause, then take: debt; throttle: halve (0/1), pauseMs, spreadRemaining
// (-1 = none), spreadWindowMs. Replies strings (Lua numbers would be cut to integers):
// granted, waitMs, rate, tokens, pausedUntil, throttledUntil, now.
const BUCKET = new LuaScript(`
local now
if ARGV[2] ~= '' then
  now = tonumber(ARGV[2])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
end
local conf = tonumber(ARGV[3])
local burst = tonumber(ARGV[4])
local minRate = tonumber(ARGV[5])
local recovery = tonumber(ARGV[6])
local maxPause = tonumber(ARGV[7])
local h = redis.call('HMGET', KEYS[1], 't', 'a', 'r', 'p', 'u')
local tokens, at, rate, p, u
if h[1] then
  tokens = tonumber(h[1]); at = tonumber(h[2]); rate = tonumber(h[3]); p = tonumber(h[4]); u = tonumber(h[5])
else
  tokens = burst; at = now; rate = conf; p = 0; u = 0
end
rate = math.min(rate, conf)
local from = math.max(at, p)
if now > from then
  tokens = math.min(burst, tokens + ((now - from) / 1000) * rate)
  local recoverFrom = math.max(from, u)
  if now > recoverFrom and rate < conf then
    rate = math.min(conf, rate + ((now - recoverFrom) / 1000) * recovery * conf)
  end
end
tokens = math.min(tokens, burst)
at = math.max(at, now)
local granted = 0
local wait = 0
local op = ARGV[1]
if op == 'take' then
  tokens = tokens - tonumber(ARGV[8])
  if now >= p and tokens >= 1 - 1e-9 then
    tokens = tokens - 1
    granted = 1
  else
    wait = math.max(now, p) - now + (math.max(0, 1 - tokens) / rate) * 1000
  end
elseif op == 'throttle' then
  local function pause(untilMs)
    p = math.max(p, untilMs)
    u = math.max(u, p)
    tokens = math.min(tokens, 0)
  end
  if ARGV[8] == '1' then
    rate = math.min(rate, math.max(minRate, rate * 0.5))
    tokens = math.min(tokens, 0)
    u = math.max(u, now)
  end
  local pauseMs = math.min(tonumber(ARGV[9]), maxPause)
  if pauseMs > 0 then pause(now + pauseMs) end
  local remaining = tonumber(ARGV[10])
  local window = math.min(tonumber(ARGV[11]), maxPause)
  if remaining >= 0 and window > 0 then
    if remaining <= 0 then
      pause(now + window)
    else
      rate = math.min(rate, remaining / (window / 1000))
      tokens = math.min(tokens, remaining)
    end
    u = math.max(u, now + window)
  end
end
if op ~= 'peek' then
  redis.call('HSET', KEYS[1], 't', tostring(tokens), 'a', tostring(at), 'r', tostring(rate), 'p', tostring(p), 'u', tostring(u))
  redis.call('PEXPIRE', KEYS[1], math.floor(maxPause + 120000))
end
return {tostring(granted), tostring(wait), tostring(rate), tostring(tokens), tostring(p), tostring(u), tostring(now)}
`);

// KEYS[1]: the rejoin marker. ARGV: hold ms, set (1) or only read (0). Replies the ms left of the hold.
const REJOIN = new LuaScript(`
if ARGV[2] == '1' then redis.call('SET', KEYS[1], '1', 'PX', ARGV[1], 'NX') end
return redis.call('PTTL', KEYS[1])
`);

interface SharedReply {
  granted: boolean;
  waitMs: number;
  rate: number;
  tokens: number;
  pausedUntil: number;
  throttledUntil: number;
  now: number;
}

function parseReply(reply: unknown): SharedReply {
  if (!Array.isArray(reply) || reply.length !== 7) throw new Error('rate budget script: unexpected reply');
  const n = reply.map((v) => Number(String(v)));
  if (n.some((v) => !Number.isFinite(v))) throw new Error('rate budget script: unexpected reply');
  const [granted, waitMs, rate, tokens, pausedUntil, throttledUntil, now] = n as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  return { granted: granted === 1, waitMs, rate, tokens, pausedUntil, throttledUntil, now };
}

/** Where a bucket's last take went, and the shared bucket as last seen (seeds the local one on a switch). */
interface BucketLink {
  mode: 'shared' | 'local' | undefined;
  /** The last shared reply, on this replica's clock. */
  lastShared: BucketState | undefined;
}

export interface RedisRateBudgetOptions {
  connection: RedisConnection;
  /** Live replicas: while Redis is away, each replica's local bucket is the spec divided by their count. */
  replicas: ReplicaCount;
  /**
   * After an outage, how long replicas keep their local budgets so that all switch back to the shared
   * one at the same moment, in ms. Trap: shorter than the reconnect back-off, and replicas that are
   * back early spend the whole shared rate while the others still spend their local shares.
   */
  rejoinHoldMs: number;
  /**
   * Clock in epoch ms, passed to the script instead of Redis' own. Default: Redis' clock for the shared
   * bucket (one clock for all replicas), Date.now for the local one. Trap: set only in tests, the same
   * clock for every instance.
   */
  now?: (() => number) | undefined;
}

/**
 * The bucket in Redis, shared by every replica; the local bucket (spec / live replicas) while Redis is
 * degraded. A switch carries the bucket over, so no one-second window exceeds the limit across it:
 * leaving, the local bucket starts as this replica's share of the shared one (its tokens, slowed rate
 * and pause); coming back, every replica charges the shared bucket what its local bucket lacks from
 * full, so the shared bucket holds no more than all local buckets held together.
 */
export class RedisRateBudget implements RateBudget {
  readonly distributed = true;
  private readonly connection: RedisConnection;
  private readonly replicas: ReplicaCount;
  private readonly rejoinHoldMs: number;
  private readonly injectedNow: (() => number) | undefined;
  private readonly now: () => number;
  private readonly local: LocalRateBudget;
  private readonly links = new LRUCache<string, BucketLink>({ max: MAX_LOCAL_BUCKETS });
  /** Local-clock instant from which the shared bucket is used; Infinity while degraded or holding. */
  private sharedFrom: number;
  private sawOutage = false;
  private epoch = 0;
  private readonly stopListening: () => void;

  constructor(options: RedisRateBudgetOptions) {
    this.connection = options.connection;
    this.replicas = options.replicas;
    this.rejoinHoldMs = options.rejoinHoldMs;
    this.injectedNow = options.now;
    this.now = options.now ?? Date.now;
    this.local = new LocalRateBudget({ now: this.now });
    this.sharedFrom = this.connection.state === 'up' ? 0 : Number.POSITIVE_INFINITY;
    this.stopListening = this.connection.onStateChange((change) => this.onStateChange(change));
  }

  /** True while takes go to the shared bucket (Redis up and no rejoin hold). */
  get sharing(): boolean {
    return this.connection.state === 'up' && this.now() >= this.sharedFrom;
  }

  async take(bucket: string, spec: BucketSpec): Promise<BudgetAnswer> {
    checkSpec(spec);
    const link = this.link(bucket);
    if (this.sharing) {
      // Back from local: the tokens this replica's local bucket lacks from full are spent already.
      // Charged once: the mode changes before the call, so a concurrent take does not charge it again.
      let debt = 0;
      if (link.mode === 'local') {
        const scaled = this.localSpec(spec);
        debt = Math.max(0, scaled.burst - this.local.tokensNow(bucket, scaled));
      }
      link.mode = 'shared';
      try {
        const reply = await this.runScript(bucket, spec, 'take', [debt]);
        link.lastShared = toLocalClock(reply, this.now());
        this.local.forget(bucket);
        const common = { shared: true, ratePerSecond: reply.rate, tokens: reply.tokens };
        return reply.granted
          ? { granted: true, ...common }
          : { granted: false, ...common, retryAfterMs: reply.waitMs };
      } catch {
        // Redis away (or an unreadable reply): the local bucket answers this one.
      }
    }
    const scaled = this.localSpec(spec);
    if (link.mode !== 'local') {
      // Leaving the shared bucket: start as this replica's share of it (tokens, slowed rate, pause),
      // unless the local bucket is still there (the shared one never answered since).
      if (link.lastShared && !this.local.has(bucket)) {
        this.local.adopt(bucket, scaleState(link.lastShared, scaled, this.replicas.count));
      }
      link.mode = 'local';
    }
    return this.local.takeNow(bucket, scaled);
  }

  async throttle(bucket: string, spec: BucketSpec, signal: ThrottleSignal): Promise<void> {
    checkSpec(spec);
    const b = boundSignal(signal, spec.maxPauseMs);
    if (this.sharing) {
      try {
        const reply = await this.runScript(bucket, spec, 'throttle', [
          b.halve ? 1 : 0,
          b.pauseMs,
          b.spreadRemaining,
          b.spreadWindowMs,
        ]);
        this.link(bucket).lastShared = toLocalClock(reply, this.now());
        return;
      } catch {
        // Redis away: the signal still holds for this replica.
      }
    }
    // The provider's word holds locally too; the local bucket is a share, so is its spread.
    const scaled = this.localSpec(spec);
    const count = this.replicas.count;
    this.local.throttleNow(bucket, scaled, {
      ...signal,
      spread: signal.spread && { ...signal.spread, remaining: signal.spread.remaining / count },
    });
  }

  async snapshot(bucket: string, spec: BucketSpec): Promise<BudgetSnapshot> {
    checkSpec(spec);
    if (this.sharing) {
      try {
        const reply = await this.runScript(bucket, spec, 'peek', []);
        return {
          shared: true,
          ratePerSecond: reply.rate,
          tokens: reply.tokens,
          pauseRemainingMs: Math.max(0, reply.pausedUntil - reply.now),
        };
      } catch {
        // Redis away: this replica's share.
      }
    }
    return this.local.snapshot(bucket, this.localSpec(spec));
  }

  /** Stops following the connection's state. */
  close(): void {
    this.stopListening();
  }

  /** This replica's share while Redis is away: the spec divided by the live replicas it last knew. */
  private localSpec(spec: BucketSpec): BucketSpec {
    const count = Math.max(1, this.replicas.count);
    return {
      ...spec,
      ratePerSecond: spec.ratePerSecond / count,
      // A bucket must hold one whole token to grant at all.
      burst: Math.max(1, spec.burst / count),
      minRatePerSecond: Math.min(spec.minRatePerSecond, spec.ratePerSecond / count),
    };
  }

  private async runScript(
    bucket: string,
    spec: BucketSpec,
    op: 'take' | 'throttle' | 'peek',
    extra: number[],
  ): Promise<SharedReply> {
    const clock = this.injectedNow ? String(this.injectedNow()) : '';
    const reply = await this.connection.run((client) =>
      BUCKET.run(
        client,
        [this.connection.key('budget', bucket)],
        [
          op,
          clock,
          spec.ratePerSecond,
          spec.burst,
          spec.minRatePerSecond,
          spec.recoveryPerSecond,
          spec.maxPauseMs,
          ...extra,
        ],
      ),
    );
    return parseReply(reply);
  }

  private onStateChange(change: RedisStateChange): void {
    // A later change makes an earlier rejoin answer moot.
    const epoch = ++this.epoch;
    if (change.state === 'degraded') {
      if (this.connection.hasBeenUp) this.sawOutage = true;
      this.sharedFrom = Number.POSITIVE_INFINITY;
      return;
    }
    // Back (or up for the first time). After an outage, set the common rejoin instant if nobody has;
    // a replica starting fresh only honours one that others set.
    const set = this.sawOutage;
    this.connection
      .run((client) =>
        REJOIN.run(client, [this.connection.key('budget-rejoin')], [this.rejoinHoldMs, set ? 1 : 0]),
      )
      .then((pttl) => {
        if (epoch !== this.epoch) return;
        const left = Number(pttl);
        this.sharedFrom =
          this.now() + (Number.isFinite(left) && left > 0 ? Math.min(left, this.rejoinHoldMs) : 0);
      })
      .catch(() => {
        // Unknown: hold the whole time, then share.
        if (epoch === this.epoch) this.sharedFrom = this.now() + this.rejoinHoldMs;
      });
  }

  private link(bucket: string): BucketLink {
    let link = this.links.get(bucket);
    if (!link) {
      link = { mode: undefined, lastShared: undefined };
      this.links.set(bucket, link);
    }
    return link;
  }
}

/** A shared reply's state on this replica's clock (the script's times are Redis' clock). */
function toLocalClock(reply: SharedReply, localNow: number): BucketState {
  const shift = localNow - reply.now;
  return {
    tokens: reply.tokens,
    at: localNow,
    rate: reply.rate,
    pausedUntil: reply.pausedUntil > 0 ? reply.pausedUntil + shift : 0,
    throttledUntil: reply.throttledUntil > 0 ? reply.throttledUntil + shift : 0,
  };
}

/** The shared bucket's state as this replica's share of it: its rate and tokens divided by `count`. */
function scaleState(shared: BucketState, scaled: BucketSpec, count: number): BucketState {
  const c = Math.max(1, count);
  return {
    tokens: Math.min(scaled.burst, shared.tokens / c),
    at: shared.at,
    rate: Math.min(scaled.ratePerSecond, shared.rate / c),
    pausedUntil: shared.pausedUntil,
    throttledUntil: shared.throttledUntil,
  };
}

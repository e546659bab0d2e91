// Idempotent mutations: the result of a request is kept per (scope, key) for 24 h, so a repeat gets
// the same answer without a second send. A key is claimed "in progress" atomically before the send,
// so of two concurrent requests with one key exactly one sends; the other waits for its result. The
// input's fingerprint is stored with the claim: a key reused with different input is refused.
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { decode, encode } from './codec.js';
import { LuaScript, type RedisConnection } from './redis.js';
import { sleep } from './wait.js';

export type IdempotencyBegin<R> =
  /** This request owns the key: send, then complete() (or abandon() on failure). */
  | { kind: 'new' }
  /** A request with this key and input finished: answer its result, send nothing. */
  | { kind: 'done'; result: R }
  /** A request with this key and input is still running. */
  | { kind: 'in_progress' }
  /** The key was used with different input. */
  | { kind: 'mismatch' };

export interface IdempotencyStore<R = unknown> {
  /** True when keys are shared by replicas (Redis). */
  readonly distributed: boolean;
  /** Claims `key` in `scope` for input `fingerprint`, or says who has it. */
  begin(scope: string, key: string, fingerprint: string): Promise<IdempotencyBegin<R>>;
  /**
   * Keeps `result` for the key this process began, for the store's TTL. False when it cannot be kept
   * (larger than the result bound, or not serializable): the claim is then dropped, and a repeat sends again.
   */
  complete(scope: string, key: string, result: R): Promise<boolean>;
  /** Drops the claim this process began (the send failed): a repeat sends again. */
  abandon(scope: string, key: string): Promise<void>;
  /** begin(), waiting (polling, up to the store's wait) while another request with the key runs. */
  beginOrWait(
    scope: string,
    key: string,
    fingerprint: string,
    options?: { signal?: AbortSignal | undefined },
  ): Promise<IdempotencyBegin<R>>;
}

export interface IdempotencyOptions {
  /** How long a result is kept, in ms (24 h in Junction). */
  ttlMs: number;
  /** How long a claim stays "in progress" if its request never finishes, in ms. */
  pendingTtlMs: number;
  /** How long beginOrWait waits for another request's outcome, in ms. */
  waitMs: number;
  /** Poll interval of that wait, in ms. */
  pollIntervalMs: number;
  /** Largest kept result, in bytes (encoded). */
  maxResultBytes: number;
}

/** Longest accepted key, scope and fingerprint, in characters; all are hashed before use. */
export const MAX_IDEMPOTENCY_INPUT = 1024;

/** The record id of (scope, key): fixed length whatever the client sent. */
function recordId(scope: string, key: string, fingerprint?: string): string {
  for (const [name, value] of [
    ['scope', scope],
    ['key', key],
    ['fingerprint', fingerprint ?? 'x'],
  ] as const) {
    if (typeof value !== 'string' || value.length === 0 || value.length > MAX_IDEMPOTENCY_INPUT) {
      throw new RangeError(
        `idempotency ${name}: expected 1..${MAX_IDEMPOTENCY_INPUT} characters, got ${typeof value === 'string' ? value.length : typeof value}`,
      );
    }
  }
  return createHash('sha256').update(scope).update('\0').update(key).digest('base64url');
}

/** begin(), then poll while in progress, up to waitMs. */
async function waitForOutcome<R>(
  begin: () => Promise<IdempotencyBegin<R>>,
  options: IdempotencyOptions,
  signal: AbortSignal | undefined,
): Promise<IdempotencyBegin<R>> {
  let polls = Math.max(1, Math.ceil(options.waitMs / options.pollIntervalMs));
  for (;;) {
    const outcome = await begin();
    if (outcome.kind !== 'in_progress' || polls <= 0) return outcome;
    polls -= 1;
    await sleep(options.pollIntervalMs, signal);
  }
}

interface LocalRecord {
  state: 'pending' | 'done';
  fingerprint: string;
  result: Buffer | undefined;
}

/** In-process: keys known to this process only. */
export class LocalIdempotencyStore<R = unknown> implements IdempotencyStore<R> {
  readonly distributed = false;
  private readonly options: IdempotencyOptions;
  private readonly records: LRUCache<string, LocalRecord>;
  /** Fingerprints of the claims this process began and has not settled. */
  private readonly claims = new Map<string, string>();

  constructor(options: IdempotencyOptions & { maxKeys?: number | undefined }) {
    this.options = options;
    this.records = new LRUCache<string, LocalRecord>({ max: options.maxKeys ?? 100_000 });
  }

  async begin(scope: string, key: string, fingerprint: string): Promise<IdempotencyBegin<R>> {
    const id = recordId(scope, key, fingerprint);
    const record = this.records.get(id);
    if (!record) {
      this.records.set(
        id,
        { state: 'pending', fingerprint, result: undefined },
        { ttl: this.options.pendingTtlMs },
      );
      this.claims.set(id, fingerprint);
      return { kind: 'new' };
    }
    if (record.fingerprint !== fingerprint) return { kind: 'mismatch' };
    if (record.state === 'pending' || !record.result) return { kind: 'in_progress' };
    const decoded = decode(record.result, Number.POSITIVE_INFINITY);
    return decoded ? { kind: 'done', result: decoded.value as R } : { kind: 'in_progress' };
  }

  async complete(scope: string, key: string, result: R): Promise<boolean> {
    const id = recordId(scope, key);
    const fingerprint = this.claims.get(id) ?? this.records.get(id)?.fingerprint;
    this.claims.delete(id);
    const bytes = encode(result);
    if (fingerprint === undefined || !bytes || bytes.length > this.options.maxResultBytes) {
      if (this.records.get(id)?.state === 'pending') this.records.delete(id);
      return false;
    }
    this.keep(id, fingerprint, bytes);
    return true;
  }

  /** Stores a finished result (the Redis store keeps its twin in step). */
  keep(id: string, fingerprint: string, bytes: Buffer): void {
    this.claims.delete(id);
    this.records.set(id, { state: 'done', fingerprint, result: bytes }, { ttl: this.options.ttlMs });
  }

  async abandon(scope: string, key: string): Promise<void> {
    const id = recordId(scope, key);
    const fingerprint = this.claims.get(id);
    this.claims.delete(id);
    const record = this.records.get(id);
    if (record?.state === 'pending' && (fingerprint === undefined || record.fingerprint === fingerprint)) {
      this.records.delete(id);
    }
  }

  beginOrWait(
    scope: string,
    key: string,
    fingerprint: string,
    options: { signal?: AbortSignal | undefined } = {},
  ): Promise<IdempotencyBegin<R>> {
    return waitForOutcome(() => this.begin(scope, key, fingerprint), this.options, options.signal);
  }
}

// KEYS[1]: record. ARGV: fingerprint, pending TTL ms. Replies {kind} or {'done', result bytes}.
const BEGIN = new LuaScript(`
local s = redis.call('HGET', KEYS[1], 's')
if not s then
  redis.call('HSET', KEYS[1], 's', 'p', 'f', ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {'new'}
end
if redis.call('HGET', KEYS[1], 'f') ~= ARGV[1] then return {'mismatch'} end
if s == 'd' then return {'done', redis.call('HGET', KEYS[1], 'r')} end
return {'in_progress'}
`);

// KEYS[1]: record. ARGV[1]: fingerprint. Drops a claim only while it is pending with this input.
const ABANDON = new LuaScript(`
if redis.call('HGET', KEYS[1], 's') == 'p' and redis.call('HGET', KEYS[1], 'f') == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`);

export interface RedisIdempotencyOptions extends IdempotencyOptions {
  connection: RedisConnection;
}

/** Records in Redis (one hash per key); this process's twin while Redis is degraded. */
export class RedisIdempotencyStore<R = unknown> implements IdempotencyStore<R> {
  readonly distributed = true;
  private readonly options: RedisIdempotencyOptions;
  private readonly connection: RedisConnection;
  private readonly twin: LocalIdempotencyStore<R>;
  private readonly claims = new Map<string, string>();

  constructor(options: RedisIdempotencyOptions) {
    this.options = options;
    this.connection = options.connection;
    this.twin = new LocalIdempotencyStore<R>(options);
  }

  async begin(scope: string, key: string, fingerprint: string): Promise<IdempotencyBegin<R>> {
    const id = recordId(scope, key, fingerprint);
    let reply: unknown;
    try {
      reply = await this.connection.run((client) =>
        BEGIN.run(client, [this.recordKey(id)], [fingerprint, this.options.pendingTtlMs], { buffers: true }),
      );
    } catch {
      // Redis away: this process decides alone (a repeat landing elsewhere may send again).
      const outcome = await this.twin.begin(scope, key, fingerprint);
      if (outcome.kind === 'new') this.claims.set(id, fingerprint);
      return outcome;
    }
    const [kindBytes, resultBytes] = Array.isArray(reply) ? (reply as (Buffer | null)[]) : [];
    const kind = kindBytes?.toString();
    if (kind === 'new') {
      this.claims.set(id, fingerprint);
      return { kind: 'new' };
    }
    if (kind === 'mismatch') return { kind: 'mismatch' };
    if (kind === 'done' && resultBytes) {
      const decoded = decode(resultBytes, this.options.maxResultBytes);
      if (decoded) return { kind: 'done', result: decoded.value as R };
    }
    return { kind: 'in_progress' };
  }

  async complete(scope: string, key: string, result: R): Promise<boolean> {
    const id = recordId(scope, key);
    const fingerprint = this.claims.get(id);
    this.claims.delete(id);
    const bytes = encode(result);
    if (fingerprint === undefined || !bytes || bytes.length > this.options.maxResultBytes) {
      await this.twin.abandon(scope, key);
      if (fingerprint !== undefined) await this.drop(id, fingerprint);
      return false;
    }
    // Kept here too, so a repeat reaching this replica during a later outage still gets it.
    this.twin.keep(id, fingerprint, bytes);
    await this.connection.guard(
      (client) =>
        client
          .multi()
          .hset(this.recordKey(id), 's', 'd', 'f', fingerprint, 'r', bytes)
          .pexpire(this.recordKey(id), this.options.ttlMs)
          .exec(),
      () => undefined,
    );
    return true;
  }

  async abandon(scope: string, key: string): Promise<void> {
    const id = recordId(scope, key);
    const fingerprint = this.claims.get(id);
    this.claims.delete(id);
    await this.twin.abandon(scope, key);
    if (fingerprint !== undefined) await this.drop(id, fingerprint);
  }

  beginOrWait(
    scope: string,
    key: string,
    fingerprint: string,
    options: { signal?: AbortSignal | undefined } = {},
  ): Promise<IdempotencyBegin<R>> {
    return waitForOutcome(() => this.begin(scope, key, fingerprint), this.options, options.signal);
  }

  private async drop(id: string, fingerprint: string): Promise<void> {
    await this.connection.guard(
      (client) => ABANDON.run(client, [this.recordKey(id)], [fingerprint]),
      () => undefined,
    );
  }

  private recordKey(id: string): string {
    return this.connection.key('idem', id);
  }
}

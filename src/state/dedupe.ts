// Acts on each provider event once, across replicas. An event id is claimed `processing` (SET NX with
// a short TTL, so a replica that dies mid-run blocks no one for long), then marked `done` for the
// dedupe window. A delivery that finds the id processing waits for the first run, as in-process:
// done makes it a duplicate, a failed first run (the claim is deleted) fails it too so the provider
// delivers again later. While Redis is degraded, this replica's own memory decides.
import { randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { LuaScript, type RedisConnection } from './redis.js';

export interface EventDedupe {
  /** True when ids are shared by replicas (Redis). */
  readonly distributed: boolean;
  /** Runs `effect` unless `id` ran (or is running) already. Resolves to whether this delivery was a duplicate. */
  once(id: string, effect: () => Promise<void>): Promise<{ duplicate: boolean }>;
}

export type EventNotSettledCode = 'EVENT_IN_PROGRESS' | 'EVENT_FIRST_RUN_FAILED';

/**
 * A delivery found its event being processed by another replica and could not learn the outcome:
 * still running after the wait (EVENT_IN_PROGRESS) or that run failed (EVENT_FIRST_RUN_FAILED). The
 * webhook answers non-2xx and the provider delivers again later.
 */
export class EventNotSettledError extends Error {
  constructor(
    readonly code: EventNotSettledCode,
    readonly eventId: string,
  ) {
    super(
      code === 'EVENT_IN_PROGRESS'
        ? 'event is still being processed by another replica'
        : 'the first delivery of this event failed on another replica',
    );
    this.name = 'EventNotSettledError';
  }
}

export function isEventNotSettledError(error: unknown): error is EventNotSettledError {
  return error instanceof EventNotSettledError;
}

export interface LocalEventDedupeOptions {
  /** How long a processed id is remembered, in ms. Default 1 h: far longer than the 300 s signature tolerance. */
  windowMs?: number | undefined;
  /** Most ids remembered. Default 100,000. */
  maxIds?: number | undefined;
}

/** In-process: what one Junction process has always done (webhooks/dedupe.ts's EventDeduper). */
export class LocalEventDedupe implements EventDedupe {
  readonly distributed = false;
  private readonly done: LRUCache<string, true>;
  private readonly running = new Map<string, Promise<void>>();

  constructor(options: LocalEventDedupeOptions = {}) {
    this.done = new LRUCache<string, true>({
      max: options.maxIds ?? 100_000,
      ttl: options.windowMs ?? 60 * 60 * 1000, // 1 h
    });
  }

  async once(id: string, effect: () => Promise<void>): Promise<{ duplicate: boolean }> {
    if (this.done.has(id)) return { duplicate: true };
    const inFlight = this.running.get(id);
    if (inFlight) {
      await inFlight; // a failure of the first run fails this delivery too: the provider retries
      return { duplicate: true };
    }
    const run = effect();
    this.running.set(id, run);
    try {
      await run;
      this.done.set(id, true);
      return { duplicate: false };
    } finally {
      this.running.delete(id);
    }
  }

  /** Remembers `id` as processed (the Redis dedupe keeps its twin in step). */
  markDone(id: string): void {
    this.done.set(id, true);
  }

  isDone(id: string): boolean {
    return this.done.has(id);
  }
}

// KEYS[1]: the id. ARGV: claim value, processing TTL ms. Replies `claimed`, or what holds the id.
const CLAIM = new LuaScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') then return 'claimed' end
return redis.call('GET', KEYS[1])
`);

// KEYS[1]: the id. ARGV[1]: this run's claim. Forgets the id only while this run still holds it.
const RELEASE = new LuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);

const DONE = 'done';

export interface RedisEventDedupeOptions {
  connection: RedisConnection;
  /** How long a claim lasts while effects run, in ms. Trap: shorter than an effect, and a retry runs it twice. */
  processingTtlMs: number;
  /** How long a processed id is remembered, in ms. */
  windowMs: number;
  /** How long a delivery waits for another replica's run of the same id, in ms. */
  waitMs: number;
  /** Poll interval of that wait, in ms. */
  pollIntervalMs: number;
  /** Most ids the local twin remembers. Default 100,000. */
  maxIds?: number | undefined;
}

export class RedisEventDedupe implements EventDedupe {
  readonly distributed = true;
  private readonly options: RedisEventDedupeOptions;
  private readonly connection: RedisConnection;
  /** Ids done here (also while Redis is up): a retry reaching this replica during an outage is known. */
  private readonly twin: LocalEventDedupe;
  /** Runs in this process, whichever path claimed them. */
  private readonly running = new Map<string, Promise<void>>();

  constructor(options: RedisEventDedupeOptions) {
    this.options = options;
    this.connection = options.connection;
    this.twin = new LocalEventDedupe({ windowMs: options.windowMs, maxIds: options.maxIds });
  }

  async once(id: string, effect: () => Promise<void>): Promise<{ duplicate: boolean }> {
    if (this.twin.isDone(id)) return { duplicate: true };
    const inFlight = this.running.get(id);
    if (inFlight) {
      await inFlight;
      return { duplicate: true };
    }
    const key = this.connection.key('dedupe', id);
    const claim = `processing:${randomUUID()}`;
    let held: unknown;
    try {
      held = await this.connection.run((client) =>
        CLAIM.run(client, [key], [claim, this.options.processingTtlMs]),
      );
    } catch {
      held = undefined; // Redis away: this replica decides alone
    }
    if (held === DONE) {
      this.twin.markDone(id);
      return { duplicate: true };
    }
    if (typeof held === 'string' && held !== 'claimed') {
      await this.waitForOther(id, key);
      this.twin.markDone(id);
      return { duplicate: true };
    }
    const claimed = held === 'claimed';
    const run = effect();
    this.running.set(id, run);
    try {
      await run;
    } catch (error) {
      // Forget the id so the provider's retry runs it again, wherever it lands.
      if (claimed) {
        await this.connection.guard(
          (client) => RELEASE.run(client, [key], [claim]),
          () => undefined,
        );
      }
      throw error;
    } finally {
      this.running.delete(id);
    }
    this.twin.markDone(id);
    await this.connection.guard(
      (client) => client.set(key, DONE, 'PX', this.options.windowMs),
      () => undefined,
    );
    return { duplicate: false };
  }

  /** Polls until the other run is done (returns) or gone or too slow (throws EventNotSettledError). */
  private async waitForOther(id: string, key: string): Promise<void> {
    let polls = Math.max(1, Math.ceil(this.options.waitMs / this.options.pollIntervalMs));
    while (polls > 0) {
      polls -= 1;
      await new Promise((resolve) => setTimeout(resolve, this.options.pollIntervalMs));
      let value: string | null;
      try {
        value = await this.connection.run((client) => client.get(key));
      } catch {
        break; // Redis went away mid-wait: the outcome cannot be known here
      }
      if (value === DONE) return;
      if (value === null) throw new EventNotSettledError('EVENT_FIRST_RUN_FAILED', id);
    }
    throw new EventNotSettledError('EVENT_IN_PROGRESS', id);
  }
}

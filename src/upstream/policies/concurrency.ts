// Caps a provider's requests in flight, sized to its undici pool, so a slow provider cannot take
// every socket and queued work waits here (where it can be cancelled) rather than inside undici.
import pLimit, { type LimitFunction } from 'p-limit';

export interface ConcurrencyOptions {
  /** Most attempts in flight at once for this provider. Default 32. Trap: clamped to poolConnections. */
  limit: number;
  /** Sockets the provider's undici pool may open (PoolOptions.connections). Default 32. */
  poolConnections: number;
}

export class ConcurrencyLimit {
  /** The limit in force after clamping. */
  readonly limit: number;
  private readonly gate: LimitFunction;

  constructor(options: ConcurrencyOptions) {
    const { limit, poolConnections } = options;
    for (const [name, value] of Object.entries({ limit, poolConnections })) {
      if (!(Number.isInteger(value) && value >= 1)) {
        throw new RangeError(`concurrency ${name} must be an integer >= 1, got ${String(value)}`);
      }
    }
    // Above the pool size, an admitted attempt would wait inside undici for a socket it cannot get:
    // its attempt timeout would run while it queues there, and no abort from us could reach it early.
    this.limit = Math.min(limit, poolConnections);
    this.gate = pLimit(this.limit);
  }

  /** Attempts running now. */
  get activeCount(): number {
    return this.gate.activeCount;
  }

  /** Attempts waiting for a slot (including abandoned ones not yet reached, which then do nothing). */
  get pendingCount(): number {
    return this.gate.pendingCount;
  }

  /**
   * Runs `fn` when a slot is free. While it waits, an abort of `signal` rejects at once with the
   * signal's reason; the abandoned entry then skips `fn` when its turn comes (p-limit cannot dequeue).
   */
  run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<T>((resolve, reject) => {
      let started = false;
      const onAbort = () => {
        if (!started) reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.gate(() => {
        started = true;
        signal?.removeEventListener('abort', onAbort);
        if (signal?.aborted) return Promise.reject(signal.reason);
        return fn();
      }).then(resolve, reject);
    });
  }
}

// Acts on each provider event once: the first delivery of an id runs its effects; concurrent or
// later deliveries of the same id wait for that run and have no effect of their own. A failed run
// forgets the id, so the provider's retry is processed again.
import { LRUCache } from 'lru-cache';

export interface DeduperOptions {
  /** How long a processed id is remembered, in ms. Default 1 h: far longer than the 300 s signature tolerance. */
  windowMs?: number;
  /** Most ids remembered. Default 100,000. */
  maxIds?: number;
}

export class EventDeduper {
  private readonly done: LRUCache<string, true>;
  private readonly running = new Map<string, Promise<void>>();

  constructor(options: DeduperOptions = {}) {
    this.done = new LRUCache<string, true>({
      max: options.maxIds ?? 100_000,
      ttl: options.windowMs ?? 60 * 60 * 1000,
    });
  }

  /** Runs `effect` unless `id` ran (or is running) already. Resolves to whether this call was a duplicate. */
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
}

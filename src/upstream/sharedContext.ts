// The CallContext of work several callers wait on (a coalesced cache load, a batch of ids). It
// carries nobody's signal or deadline, so one caller giving up never cancels the work for the
// others (it runs on under its own attempt timeouts and retry limits); each caller still waiting
// sees its calls in its upstream report, and one that joins late is told the calls made so far.
// It belongs to the first caller's trace; a caller from another trace that joins gets a span link to it.
import type { CallContext, UpstreamCallInfo } from './callContext.js';
import { linkSharedWork } from './tracing.js';

export class SharedCallContext {
  /** Hand this to the shared work. */
  readonly ctx: CallContext;
  /** Each waiting caller, with how many of its loads wait here (one report line per call all the same). */
  private readonly waiters = new Map<CallContext, number>();
  private readonly calls: UpstreamCallInfo[] = [];
  private readonly throttles: Array<{ provider: string; waitedMs: number }> = [];

  /**
   * `first`: the caller that started the work; its request id is forwarded to the provider and its
   * trace holds the work's spans. `cacheLoad`: the work fills (or refreshes) a cache entry.
   */
  constructor(first: CallContext, cacheLoad?: CallContext['cacheLoad']) {
    this.ctx = {
      requestId: first.requestId,
      trace: first.trace,
      cacheLoad: cacheLoad ?? first.cacheLoad,
      onCall: (info) => {
        this.calls.push(info);
        for (const waiter of this.waiters.keys()) waiter.onCall?.(info);
      },
      onThrottle: (provider, waitedMs) => {
        this.throttles.push({ provider, waitedMs });
        for (const waiter of this.waiters.keys()) waiter.onThrottle?.(provider, waitedMs);
      },
    };
  }

  /** Callers waiting now. */
  get size(): number {
    return this.waiters.size;
  }

  /**
   * `waiter` waits on the shared work: it is told the calls made so far and every later one, until
   * the returned function is called (it gave up, or the work is done).
   */
  join(waiter: CallContext): () => void {
    const count = this.waiters.get(waiter) ?? 0;
    this.waiters.set(waiter, count + 1);
    if (count === 0) {
      for (const info of this.calls) waiter.onCall?.(info);
      for (const t of this.throttles) waiter.onThrottle?.(t.provider, t.waitedMs);
      linkSharedWork(waiter.trace, this.ctx.trace);
    }
    let left = false;
    return () => {
      if (left) return;
      left = true;
      const remaining = (this.waiters.get(waiter) ?? 1) - 1;
      if (remaining <= 0) this.waiters.delete(waiter);
      else this.waiters.set(waiter, remaining);
    };
  }
}

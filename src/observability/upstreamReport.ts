// Per-operation record of the upstream work it caused: calls, cache outcomes, time. Feeds the
// stale marker in response extensions and the operation log line.
import type { UpstreamCallInfo } from '../upstream/callContext.js';

export interface ProviderSummary {
  calls: number;
  errors: number;
  retries: number;
  cacheHits: number;
  cacheMisses: number;
  staleServed: number;
  totalMs: number;
  throttleWaitMs: number;
}

export class UpstreamReport {
  readonly calls: UpstreamCallInfo[] = [];
  readonly startedAtMs = Date.now();
  private readonly providers = new Map<string, ProviderSummary>();

  recordCall(info: UpstreamCallInfo): void {
    this.calls.push({ ...info });
    const s = this.summary(info.provider);
    s.calls += 1;
    s.totalMs += info.durationMs;
    if (info.outcome === 'error') s.errors += 1;
    if (info.attempt > 1) s.retries += 1;
  }

  recordCache(provider: string, outcome: 'hit' | 'stale' | 'miss'): void {
    const s = this.summary(provider);
    if (outcome === 'hit') s.cacheHits += 1;
    else if (outcome === 'stale') s.staleServed += 1;
    else s.cacheMisses += 1;
  }

  recordThrottle(provider: string, waitedMs: number): void {
    this.summary(provider).throttleWaitMs += waitedMs;
  }

  /** What `extensions.upstream` shows: per provider totals and the timing of each call. */
  toJSON(): {
    totalCalls: number;
    providers: Record<string, ProviderSummary>;
    calls: Array<{
      provider: string;
      route: string;
      status: number | null;
      attempt: number;
      outcome: string;
      startMs: number;
      durationMs: number;
    }>;
  } {
    return {
      totalCalls: this.calls.length,
      providers: Object.fromEntries(
        [...this.providers].map(([p, s]) => [
          p,
          { ...s, totalMs: Math.round(s.totalMs), throttleWaitMs: Math.round(s.throttleWaitMs) },
        ]),
      ),
      calls: this.calls.map((c) => ({
        provider: c.provider,
        route: c.route,
        status: c.status ?? null,
        attempt: c.attempt,
        outcome: c.errorCode ?? c.outcome,
        startMs: Math.max(0, c.startedAtMs - this.startedAtMs),
        durationMs: Math.round(c.durationMs),
      })),
    };
  }

  /** True when any answer came from a stale cache entry. */
  get servedStale(): boolean {
    for (const s of this.providers.values()) if (s.staleServed > 0) return true;
    return false;
  }

  /** Providers that served stale data, for the response's `extensions.stale`. */
  staleProviders(): string[] {
    return [...this.providers].filter(([, s]) => s.staleServed > 0).map(([p]) => p);
  }

  get totalCalls(): number {
    return this.calls.length;
  }

  byProvider(): Record<string, ProviderSummary> {
    return Object.fromEntries(this.providers);
  }

  private summary(provider: string): ProviderSummary {
    let s = this.providers.get(provider);
    if (!s) {
      s = {
        calls: 0,
        errors: 0,
        retries: 0,
        cacheHits: 0,
        cacheMisses: 0,
        staleServed: 0,
        totalMs: 0,
        throttleWaitMs: 0,
      };
      this.providers.set(provider, s);
    }
    return s;
  }
}

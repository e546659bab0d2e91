// Per-provider health as seen from Junction: last success, last error, and (when the resilience
// pipeline is installed) circuit state. Read by /readyz; written by every attempt.
import type { UpstreamCallInfo } from './callContext.js';
import type { UpstreamError } from './errors.js';

export interface ProviderState {
  provider: string;
  /** `simulator` in demo mode, `remote` otherwise. */
  mode: 'simulator' | 'remote';
  /** The worst state among the provider's breakers. */
  circuit: 'closed' | 'open' | 'half-open';
  /** Every breaker of the provider by group, when it has more than one. */
  circuits: Record<string, 'closed' | 'open' | 'half-open'>;
  lastSuccessAt: string | null;
  lastError: { code: string; message: string; at: string; status?: number } | null;
}

export class ProviderHealth {
  private readonly states = new Map<string, ProviderState>();

  register(provider: string, mode: ProviderState['mode']): void {
    this.states.set(provider, {
      provider,
      mode,
      circuit: 'closed',
      circuits: {},
      lastSuccessAt: null,
      lastError: null,
    });
  }

  /** Wire as RestClient's `onAttempt`. */
  recordAttempt(info: UpstreamCallInfo, error: UpstreamError | undefined): void {
    const state = this.states.get(info.provider);
    if (!state || info.outcome === 'cancelled') return;
    const at = new Date(info.startedAtMs + info.durationMs).toISOString();
    if (error) {
      state.lastError = {
        code: error.code,
        message: error.message,
        at,
        ...(error.status !== undefined ? { status: error.status } : {}),
      };
    } else {
      state.lastSuccessAt = at;
    }
  }

  setCircuit(provider: string, group: string, circuit: ProviderState['circuit']): void {
    const state = this.states.get(provider);
    if (!state) return;
    state.circuits[group] = circuit;
    const all = Object.values(state.circuits);
    state.circuit = all.includes('open') ? 'open' : all.includes('half-open') ? 'half-open' : 'closed';
  }

  snapshot(): Record<string, ProviderState> {
    return Object.fromEntries([...this.states].map(([k, v]) => [k, { ...v, circuits: { ...v.circuits } }]));
  }
}

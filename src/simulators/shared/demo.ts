// What each simulator folder's `demo.ts` exports: how to start it for demo mode (and the test
// harness), and what Junction needs to talk to it. The provider registry pairs each provider module
// with its simulator's `startDemo`, loaded lazily so production never loads simulator code.
import type { FaultRule } from './faults.js';
import type { Simulator } from './simulator.js';

export interface DemoOptions<SimOptions = object> {
  /** Faults every simulator applies (SIM_LATENCY_MS and friends in demo mode). */
  faults: FaultRule[];
  /** The provider's configured settings (e.g. STRIPE_WEBHOOK_SECRET given beside a simulator). */
  settings: Readonly<Record<string, unknown>>;
  /** Options for the simulator itself (tests: seeds, token lifetimes, extra faults). */
  simulator?: SimOptions;
}

export interface RunningDemo<S extends Simulator = Simulator> {
  simulator: S;
  /** The provider's remote variables, pointing at the simulator (its URL, its credentials). */
  remote: Record<string, unknown>;
  /** Settings the simulator overrides (its API base, the webhook secret it signs with). */
  settings?: Record<string, unknown>;
  /** Points the simulator's webhooks at Junction once Junction's URL is known. */
  connectWebhooks?(junctionBaseUrl: string): void;
}

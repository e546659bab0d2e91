// Demo mode: starts an embedded simulator for every provider the environment leaves unconfigured
// (loaded lazily through the registry), wires their webhooks back to Junction once it listens, and
// reports where each provider is. Never called in production (config refuses unconfigured providers).
import type { Config } from './config.js';
import { asSectionValues, type Fields, plainValues } from './configSchema.js';
import type { ProviderEndpoint, RemoteValues } from './providers/module.js';
import { type ProviderName, providerModules, SIMULATORS } from './providers/registry.js';
import type { ProviderEndpoints } from './services.js';
import type { RunningDemo } from './simulators/shared/demo.js';
import { type FaultRule, faultRulesFromEnv } from './simulators/shared/faults.js';
import type { Simulator } from './simulators/shared/simulator.js';

export interface RunningProviders {
  endpoints: ProviderEndpoints;
  simulators: Simulator[];
  /** Points the simulators' webhooks at Junction (its URL is known only once it listens). */
  connectWebhooks(junctionBaseUrl: string): void;
  close(): Promise<void>;
}

/** Per provider, options for its simulator (tests: seeds, token lifetimes, faults). */
export type SimulatorOptions = Partial<Record<ProviderName, object>>;

/**
 * Starts simulators on loopback for the providers in `simulator` mode. `SIM_LATENCY_MS`,
 * `SIM_JITTER_MS`, `SIM_ERROR_RATE` and `SIM_ERROR_STATUS` slow them down or make them fail, for
 * demos and benches.
 */
export async function startProviders(
  config: Config,
  env: NodeJS.ProcessEnv = process.env,
  options: { simulators?: SimulatorOptions; faults?: FaultRule[] } = {},
): Promise<RunningProviders & { demos: Partial<Record<ProviderName, RunningDemo>> }> {
  const simulated = providerModules.filter(
    (m) => config.providers[m.name as ProviderName].mode === 'simulator',
  );
  if (config.isProduction && simulated.length > 0) throw new Error('simulators never start in production');
  const faults = options.faults ?? faultRulesFromEnv(env, 'SIM_');
  const endpoints: Record<string, ProviderEndpoint> = {};
  const demos: Partial<Record<ProviderName, RunningDemo>> = {};
  const started = await Promise.all(
    providerModules.map(async (module) => {
      const name = module.name as ProviderName;
      const configured = config.providers[name];
      if (configured.mode === 'remote') {
        endpoints[name] = { mode: 'remote', remote: configured.remote, settings: configured.settings };
        return undefined;
      }
      const { startDemo } = await SIMULATORS[name]();
      const demo: RunningDemo = await (startDemo as (o: object) => Promise<RunningDemo>)({
        faults,
        // Simulators stand alone (no Secret handles): they get the settings' current values.
        settings: plainValues(configured.settings),
        simulator: options.simulators?.[name],
      });
      demos[name] = demo;
      endpoints[name] = {
        mode: 'simulator',
        remote: asSectionValues(module.config.remote, demo.remote) as RemoteValues<Fields>,
        settings: { ...configured.settings, ...asSectionValues(module.config.settings, demo.settings ?? {}) },
      };
      return demo;
    }),
  );
  const running = started.filter((d): d is RunningDemo => d !== undefined);
  return {
    endpoints: endpoints as ProviderEndpoints,
    demos,
    simulators: running.map((d) => d.simulator),
    connectWebhooks: (base) => {
      for (const demo of running) demo.connectWebhooks?.(base);
    },
    close: async () => {
      await Promise.all(running.map((d) => d.simulator.close()));
    },
  };
}

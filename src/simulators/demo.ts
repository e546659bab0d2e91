// Demo mode: starts an embedded simulator for every provider the environment leaves unconfigured,
// and reports where each provider is. Never called in production (config refuses that earlier).
import type { ProviderEndpoints } from '../app.js';
import type { Config } from '../config.js';
import { faultRulesFromEnv } from './shared/faults.js';
import type { Simulator } from './shared/simulator.js';
import { createUsersSimulator } from './users/simulator.js';

export interface RunningProviders {
  endpoints: ProviderEndpoints;
  simulators: Simulator[];
  close(): Promise<void>;
}

/**
 * Starts simulators on loopback for `simulator` providers. `SIM_LATENCY_MS`, `SIM_JITTER_MS`,
 * `SIM_ERROR_RATE` and `SIM_ERROR_STATUS` slow them down or make them fail, for demos.
 */
export async function startProviders(config: Config, env = process.env): Promise<RunningProviders> {
  if (config.isProduction && config.users.kind === 'simulator') {
    throw new Error('simulators never start in production');
  }
  const faults = faultRulesFromEnv(env, 'SIM_');
  const simulators: Simulator[] = [];
  let users: ProviderEndpoints['users'];
  if (config.users.kind === 'remote') {
    users = { ...config.users, mode: 'remote' };
  } else {
    const sim = createUsersSimulator({ seedCount: 1000, faults });
    const url = await sim.start();
    simulators.push(sim);
    users = {
      mode: 'simulator',
      apiUrl: url,
      tokenUrl: `${url}/oauth/token`,
      clientId: sim.credentials.clientId,
      clientSecret: sim.credentials.clientSecret,
    };
  }
  return {
    endpoints: { users },
    simulators,
    close: async () => {
      await Promise.all(simulators.map((s) => s.close()));
    },
  };
}

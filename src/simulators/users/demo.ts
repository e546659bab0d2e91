// The users simulator in demo mode: 1,000 seeded users behind an OAuth2 client-credentials grant.
import type { DemoOptions, RunningDemo } from '../shared/demo.js';
import { createUsersSimulator, type UsersSimulator, type UsersSimulatorOptions } from './simulator.js';

export async function startDemo(
  options: DemoOptions<UsersSimulatorOptions>,
): Promise<RunningDemo<UsersSimulator>> {
  const simulator = createUsersSimulator({
    seedCount: 1000,
    ...options.simulator,
    faults: [...options.faults, ...(options.simulator?.faults ?? [])],
  });
  const url = await simulator.start();
  return {
    simulator,
    remote: { apiUrl: url, tokenUrl: `${url}/oauth/token`, ...simulator.credentials },
  };
}

// The Twilio simulator in demo mode: SMS with status callbacks to the StatusCallback URL Junction
// sends with each message, signed with the simulator's auth token.
import type { DemoOptions, RunningDemo } from '../shared/demo.js';
import { createTwilioSimulator, type TwilioSimulator, type TwilioSimulatorOptions } from './simulator.js';

export async function startDemo(
  options: DemoOptions<TwilioSimulatorOptions>,
): Promise<RunningDemo<TwilioSimulator>> {
  const simulator = createTwilioSimulator({
    ...options.simulator,
    faults: [...options.faults, ...(options.simulator?.faults ?? [])],
  });
  const url = await simulator.start();
  return {
    simulator,
    remote: {
      accountSid: simulator.accountSid,
      authToken: simulator.authToken,
      fromNumber: simulator.fromNumber,
    },
    settings: { apiBase: url },
  };
}

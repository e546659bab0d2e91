// The SendGrid simulator in demo mode: mail/send, and ECDSA-signed event webhooks back to Junction
// with a key pair generated at start.
import type { DemoOptions, RunningDemo } from '../shared/demo.js';
import {
  createSendGridSimulator,
  type SendGridSimulator,
  type SendGridSimulatorOptions,
} from './simulator.js';
import { generateEventWebhookKeyPair } from './webhooks.js';

export async function startDemo(
  options: DemoOptions<SendGridSimulatorOptions>,
): Promise<RunningDemo<SendGridSimulator> & { webhookPrivateKey: string }> {
  const simulator = createSendGridSimulator({
    ...options.simulator,
    faults: [...options.faults, ...(options.simulator?.faults ?? [])],
  });
  const url = await simulator.start();
  const keys = generateEventWebhookKeyPair();
  return {
    simulator,
    webhookPrivateKey: keys.privateKeyPem,
    remote: { apiKey: simulator.apiKey, fromEmail: 'noreply@junction.example' },
    settings: { apiBase: url, webhookPublicKey: keys.publicKey },
    connectWebhooks: (base) =>
      simulator.setEventWebhook({
        url: new URL('/webhooks/sendgrid', base).toString(),
        privateKey: keys.privateKeyPem,
      }),
  };
}

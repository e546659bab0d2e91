// The GitHub simulator in demo mode: an OAuth app with a consent page (no auto-approval), seeded
// accounts (`octo-ada` owns 250 repositories), and signed webhooks back to Junction. It signs with a
// secret of its own; GITHUB_WEBHOOK_SECRET is accepted beside it. Once Junction's URL is known, its
// callback (under both loopback names, so the browser may use either) becomes the registered one.
import { randomBytes } from 'node:crypto';
import type { DemoOptions, RunningDemo } from '../shared/demo.js';
import { createGitHubSimulator, type GitHubSimulator, type GitHubSimulatorOptions } from './simulator.js';

export async function startDemo(
  options: DemoOptions<GitHubSimulatorOptions>,
): Promise<RunningDemo<GitHubSimulator> & { webhookSecret: string }> {
  const simulator = createGitHubSimulator({
    ...options.simulator,
    faults: [...options.faults, ...(options.simulator?.faults ?? [])],
  });
  const url = await simulator.start();
  const webhookSecret = `ghsim_${randomBytes(24).toString('base64url')}`;
  const given = Array.isArray(options.settings.webhookSecrets)
    ? (options.settings.webhookSecrets as string[])
    : [];
  return {
    simulator,
    webhookSecret,
    remote: { clientId: simulator.clientId, clientSecret: simulator.clientSecret },
    settings: { apiBase: url, oauthBase: url, webhookSecrets: [webhookSecret, ...given] },
    connectWebhooks: (base) => {
      simulator.setWebhook({ url: new URL('/webhooks/github', base).toString(), secret: webhookSecret });
      simulator.setRedirectUris(callbackUrls(base));
    },
  };
}

/** Junction's callback at `base`, and at its loopback twin (localhost and 127.0.0.1 name one machine). */
export function callbackUrls(base: string): string[] {
  const callback = new URL('/oauth/github/callback', base);
  const urls = [callback.toString()];
  const twin = { localhost: '127.0.0.1', '127.0.0.1': 'localhost' }[callback.hostname];
  if (twin !== undefined) {
    const other = new URL(callback);
    other.hostname = twin;
    urls.push(other.toString());
  }
  return urls;
}

// SendGrid as a provider module: email, with a signed event webhook.
import { BearerAuth } from '../../upstream/auth.js';
import type { ProviderModule } from '../module.js';
import { SENDGRID_PROVIDER, SendGridClient } from './client.js';
import { sendgridConfig } from './config.js';
import { sendgridWebhooks } from './webhooks.js';

type Spec = typeof sendgridConfig;

export const sendgridModule: ProviderModule<
  typeof SENDGRID_PROVIDER,
  'email',
  Spec['remote'],
  Spec['settings'],
  SendGridClient
> = {
  name: SENDGRID_PROVIDER,
  capability: 'email',
  config: sendgridConfig,
  policy: (settings) => ({ ratePerSecond: settings.ratePerSecond }),
  createClient: ({ remote, settings }, deps) =>
    new SendGridClient({
      ...deps.common,
      baseUrl: settings.apiBase,
      auth: new BearerAuth(remote.apiKey),
      fromEmail: remote.fromEmail,
      executor: deps.executor,
    }),
  webhooks: sendgridWebhooks,
};

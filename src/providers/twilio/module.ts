// Twilio as a provider module: SMS, with signed status callbacks.
import { BasicAuth } from '../../upstream/auth.js';
import type { ProviderModule } from '../module.js';
import { TWILIO_PROVIDER, TwilioClient } from './client.js';
import { twilioConfig } from './config.js';
import { twilioWebhooks } from './webhooks.js';

type Spec = typeof twilioConfig;

export const twilioModule: ProviderModule<
  typeof TWILIO_PROVIDER,
  'sms',
  Spec['remote'],
  Spec['settings'],
  TwilioClient
> = {
  name: TWILIO_PROVIDER,
  capability: 'sms',
  config: twilioConfig,
  policy: (settings) => ({ ratePerSecond: settings.ratePerSecond }),
  createClient: ({ remote, settings }, deps) =>
    new TwilioClient({
      ...deps.common,
      baseUrl: settings.apiBase,
      auth: new BasicAuth(remote.accountSid, remote.authToken),
      accountSid: remote.accountSid,
      fromNumber: remote.fromNumber,
      // Status callbacks come back to this Junction's intake route, whose URL is what Twilio signs.
      statusCallbackUrl: () => {
        const base = deps.publicBaseUrl();
        return base ? new URL(`/webhooks/${TWILIO_PROVIDER}`, base).toString() : undefined;
      },
      cache: deps.cache,
      messagesCachePolicy: {
        ttlSeconds: settings.messagesTtlSeconds,
        staleIfErrorSeconds: settings.staleIfErrorSeconds,
      },
      executor: deps.executor,
    }),
  webhooks: twilioWebhooks,
};

// Twilio's configuration: account, sender, rate and cache lifetime, written once.
import { decimal, integer, rotating, secret, text, url } from '../../configSchema.js';
import type { ProviderConfigSpec } from '../module.js';

const remote = {
  accountSid: text('TWILIO_ACCOUNT_SID', {
    pattern: /^AC[0-9a-fA-F]{32}$/,
    expected: 'an account SID (AC + 32 hex digits)',
    doc: 'Account SID (HTTP Basic user).',
  }),
  authToken: rotating(
    secret('TWILIO_AUTH_TOKEN', { doc: 'Auth token (HTTP Basic password; signs status callbacks).' }),
    'webhook',
  ),
  fromNumber: text('TWILIO_FROM_NUMBER', {
    pattern: /^\+[1-9]\d{6,14}$/,
    expected: 'an E.164 number (+15005550006)',
    doc: 'The number SMS are sent from.',
  }),
};

const settings = {
  apiBase: url('TWILIO_API_BASE', { default: 'https://api.twilio.com', doc: 'Twilio API base URL.' }),
  ratePerSecond: decimal('TWILIO_RATE_LIMIT_PER_SECOND', {
    min: 0.1,
    max: 100_000,
    default: 100,
    doc: 'Requests per second per credential, never exceeded in any second, against Twilio.',
  }),
  messagesTtlSeconds: integer('TWILIO_MESSAGES_CACHE_TTL_SECONDS', {
    min: 0,
    max: 86_400,
    default: 15,
    unit: 's',
    doc: 'Freshness of a cached messages page (invalidated by sends and status callbacks).',
  }),
  staleIfErrorSeconds: integer('TWILIO_CACHE_SIE_SECONDS', {
    min: 0,
    max: 86_400,
    default: 300,
    unit: 's',
    doc: 'How long stale messages are served while Twilio fails.',
  }),
};

export const twilioConfig: ProviderConfigSpec<typeof remote, typeof settings> = {
  title: 'Twilio',
  remote,
  settings,
  check: ({ mode }, { publicBaseUrl }) =>
    mode === 'remote' && publicBaseUrl === undefined
      ? ['PUBLIC_BASE_URL: required when Twilio is configured (status callbacks and their signatures use it)']
      : [],
};

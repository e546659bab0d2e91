// SendGrid's configuration: key, sender, event webhook key and rate, written once.
import { custom, decimal, rotating, secret, text, url } from '../../configSchema.js';
import type { ProviderConfigSpec } from '../module.js';
import { sendgridPublicKey } from './webhookSignature.js';

const remote = {
  apiKey: rotating(secret('SENDGRID_API_KEY', { doc: 'API key (`SG.…`).' }), 'none'),
  fromEmail: text('SENDGRID_FROM_EMAIL', {
    pattern: /^[^\s@]+@[^\s@]+$/,
    maxLength: 254,
    expected: 'an email address',
    doc: 'The sender address of every email.',
  }),
};

const settings = {
  apiBase: url('SENDGRID_API_BASE', { default: 'https://api.sendgrid.com', doc: 'SendGrid API base URL.' }),
  webhookPublicKey: rotating(
    custom<string | undefined>('SENDGRID_WEBHOOK_PUBLIC_KEY', {
      secret: true, // not a secret, but rotated with the webhook settings like one: may come from a file
      defaultDoc: 'demo: generated; production: required',
      expected: 'an ECDSA public key (base64 DER or PEM)',
      parse: (raw) => {
        try {
          sendgridPublicKey(raw);
          return raw.trim();
        } catch {
          return undefined;
        }
      },
      doc: "Verification key of SendGrid's signed event webhook (ECDSA P-256), checked at startup.",
    }),
    'webhook',
  ),
  ratePerSecond: decimal('SENDGRID_RATE_LIMIT_PER_SECOND', {
    min: 0.1,
    max: 100_000,
    default: 100,
    doc: 'Requests per second per credential, never exceeded in any second, against SendGrid.',
  }),
};

export const sendgridConfig: ProviderConfigSpec<typeof remote, typeof settings> = {
  title: 'SendGrid',
  remote,
  settings,
  check: ({ mode, settings }, { isProduction }) =>
    isProduction && mode === 'remote' && settings.webhookPublicKey === undefined
      ? ['SENDGRID_WEBHOOK_PUBLIC_KEY: required in production']
      : [],
};

// SendGrid simulator: `POST /v3/mail/send` with bearer API keys, SendGrid's validation errors, 202 +
// X-Message-Id, sandbox mode, and a signed Event Webhook reporting processed/delivered per recipient.
import { createHash, randomBytes } from 'node:crypto';
import { bearerToken } from '../shared/credentials.js';
import type { DeliveryAttempt } from '../shared/outbox.js';
import { createOutbox } from '../shared/outbox.js';
import type { ProviderSimulatorOptions, Simulator } from '../shared/simulator.js';
import { createSimulator } from '../shared/simulator.js';
import type { SimRequest, SimResponse } from '../shared/wire.js';
import { eventsFor } from './events.js';
import type { MailSendBody, SendGridFieldError } from './validation.js';
import { validateMailSend } from './validation.js';
import type { SendGridEvent, SendGridEventWebhookTarget } from './webhooks.js';
import { eventWebhookDelivery } from './webhooks.js';

export type { SendGridEvent, SendGridEventWebhookTarget } from './webhooks.js';

export interface SendGridSimulatorOptions extends ProviderSimulatorOptions {
  /** API key accepted as `Authorization: Bearer <key>`. Default: `SG.junction-demo.<43 chars>`, fixed for the demo. */
  apiKey?: string;
  /** Event Webhook receiver and signing key; change it later with `setEventWebhook`. Default: none (events are only recorded). */
  eventWebhook?: SendGridEventWebhookTarget;
  /** Waits before Event Webhook retries, in ms; the length is the number of retries. Default: [100, 400, 1600]. */
  webhookRetryDelaysMs?: readonly number[];
  /** Largest accepted request body in bytes; bigger is a 413. Default: 30 MiB, SendGrid's limit. */
  maxBodyBytes?: number;
}

/** A mail the simulator accepted for delivery. */
export interface SentMail {
  /** The `X-Message-Id` it answered with. */
  messageId: string;
  body: MailSendBody;
  /** Acceptance time, ms since epoch. */
  at: number;
}

export interface SendGridSimulator extends Simulator {
  readonly apiKey: string;
  /** Accepted mails (not sandbox-mode ones), oldest first. */
  readonly sent: SentMail[];
  /** Every event generated, oldest first, whether or not a webhook is set. */
  readonly events: SendGridEvent[];
  /** Every Event Webhook attempt, in the order they finished. */
  readonly webhookDeliveries: DeliveryAttempt[];
  /** Sets or clears the Event Webhook for mails sent from now on. */
  setEventWebhook(target: SendGridEventWebhookTarget | undefined): void;
  /** Resolves once every Event Webhook POST queued so far has been delivered or has used up its retries. */
  flushWebhooks(): Promise<void>;
  /** Accepts another API key (SendGrid accounts hold many; rotation: create the new, then delete the old). */
  addApiKey(key: string): void;
  /** Stops accepting an API key: it then gets SendGrid's 401. */
  removeApiKey(key: string): void;
}

/** Route names, for counters and fault matching. */
export const SENDGRID_ROUTES = {
  mailSend: 'POST /v3/mail/send',
} as const;

export const DEFAULT_SENDGRID_API_KEY = `SG.junction-demo.${createHash('sha256')
  .update('junction-demo:sendgrid:api-key')
  .digest('base64url')}`;

const MAX_BODY_BYTES = 30 * 1024 * 1024; // 30 MiB

export function createSendGridSimulator(opts: SendGridSimulatorOptions = {}): SendGridSimulator {
  const apiKey = opts.apiKey ?? DEFAULT_SENDGRID_API_KEY;
  const apiKeys = new Set([apiKey]);
  const maxBodyBytes = opts.maxBodyBytes ?? MAX_BODY_BYTES;
  const sent: SentMail[] = [];
  const events: SendGridEvent[] = [];
  let eventWebhook = opts.eventWebhook;
  const outbox = createOutbox({ retryDelaysMs: opts.webhookRetryDelaysMs });

  const mailSend = (req: SimRequest): SimResponse => {
    const authorization = req.headers.authorization;
    if (authorization === undefined || authorization === '') {
      return errors(401, [{ message: 'authorization required', field: null, help: null }]);
    }
    const key = bearerToken(authorization);
    if (key === undefined || !apiKeys.has(key)) {
      return errors(401, [
        {
          message: 'The provided authorization grant is invalid, expired, or revoked',
          field: null,
          help: null,
        },
      ]);
    }
    if (req.rawBody.length > maxBodyBytes) {
      return errors(413, [
        {
          message: 'The JSON payload you have included in your request is too large.',
          field: null,
          help: null,
        },
      ]);
    }
    let body: unknown;
    try {
      body = JSON.parse(req.rawBody.toString('utf8'));
    } catch {
      return errors(400, [{ message: 'Bad Request', field: null, help: null }]);
    }
    const problems = validateMailSend(body);
    if (problems.length > 0) return errors(400, problems);
    const mail = body as MailSendBody;

    // Sandbox mode validates only: 200, nothing is sent (https://docs.sendgrid.com/for-developers/sending-email/sandbox-mode).
    if (mail.mail_settings?.sandbox_mode?.enable === true) return { status: 200 };

    const messageId = randomBytes(16).toString('base64url'); // 22 characters, like SendGrid's
    sent.push({ messageId, body: mail, at: Date.now() });
    const batch = eventsFor(mail, messageId);
    events.push(...batch);
    if (eventWebhook !== undefined) outbox.send(eventWebhookDelivery(batch, eventWebhook));
    return { status: 202, headers: { 'x-message-id': messageId } };
  };

  const sim = createSimulator({
    name: 'sendgrid',
    host: opts.host,
    port: opts.port,
    faults: opts.faults,
    errorShape: sendgridFaultError,
    routes: [{ method: 'POST', path: '/v3/mail/send', handler: mailSend }],
    onClose: () => outbox.close(),
  });

  const own: Omit<SendGridSimulator, keyof Simulator> = {
    apiKey,
    sent,
    events,
    webhookDeliveries: outbox.attempts,
    setEventWebhook(target) {
      eventWebhook = target;
    },
    flushWebhooks: () => outbox.flush(),
    addApiKey(key) {
      if (key === '') throw new TypeError('API key: expected a non-empty string');
      apiKeys.add(key);
    },
    removeApiKey(key) {
      apiKeys.delete(key);
    },
  };
  return Object.assign(sim, own);
}

function errors(status: number, list: SendGridFieldError[]): SimResponse {
  return { status, body: { errors: list } };
}

/** SendGrid's body for an injected fault status. */
function sendgridFaultError(status: number): { body: { errors: SendGridFieldError[] } } {
  return { body: { errors: [{ message: faultMessage(status), field: null, help: null }] } };
}

function faultMessage(status: number): string {
  if (status === 429) return 'too many requests';
  if (status >= 500) return 'internal server error (simulated fault)';
  return `simulated fault: status ${status}`;
}

// The events an accepted mail produces, as SendGrid's Event Webhook reports them (the webhook itself,
// signed, is webhooks.ts).
import type { MailSendBody } from './validation.js';
import type { SendGridEvent } from './webhooks.js';
import { eventId } from './webhooks.js';

/**
 * `processed` then `delivered` for every recipient (to, cc, bcc of every personalization), carrying the
 * mail's custom_args (a personalization's own win) and categories, as SendGrid's Event Webhook does.
 */
export function eventsFor(mail: MailSendBody, messageId: string): SendGridEvent[] {
  const timestamp = Math.floor(Date.now() / 1000);
  const recipients = mail.personalizations.flatMap((p, index) =>
    [...p.to, ...(p.cc ?? []), ...(p.bcc ?? [])].map((address) => ({
      email: address.email,
      index,
      customArgs: { ...mail.custom_args, ...p.custom_args },
    })),
  );
  const common = (email: string, index: number) => ({
    email,
    timestamp,
    'smtp-id': `<${messageId}@geopod-ismtpd-sim-1>`,
    sg_message_id: `${messageId}.filterdrecv-sim-1-${index}.0`,
    ...(mail.categories === undefined ? {} : { category: mail.categories }),
    ...(mail.template_id === undefined ? {} : { sg_template_id: mail.template_id }),
  });
  const eventsOf = (event: SendGridEvent['event'], extra: Partial<SendGridEvent> = {}) =>
    recipients.map(
      (r): SendGridEvent => ({
        ...r.customArgs,
        ...common(r.email, r.index),
        event,
        sg_event_id: eventId(),
        ...extra,
      }),
    );
  return [
    ...eventsOf('processed'),
    ...eventsOf('delivered', { response: '250 2.0.0 OK', tls: 1, ip: '192.0.2.25' }),
  ];
}

// `POST /Accounts/{Sid}/Messages.json`: Twilio's checks of To, From or MessagingServiceSid, Body and
// StatusCallback (with its error codes and magic test numbers), then a new message on its way.
import type { SimRequest, SimResponse } from '../shared/wire.js';
import { startDelivery } from './delivery.js';
import { twilioError } from './errors.js';
import { buildMessage, isE164, twilioSid } from './messages.js';
import type { TwilioState } from './state.js';

const MAX_BODY_LENGTH = 1600;

/** Twilio's magic test `To` numbers and the errors they trigger (https://www.twilio.com/docs/messaging/tutorials/test-sms). */
const MAGIC_TO: Readonly<Record<string, (to: string, from: string) => [number, string]>> = {
  '+15005550001': (to) => [21211, `The 'To' number ${to} is not a valid phone number.`],
  '+15005550002': (to, from) => [
    21612,
    `The 'To' phone number: ${to}, is not currently reachable using the 'From' phone number: ${from} via SMS.`,
  ],
  '+15005550003': (to) => [
    21408,
    `Permission to send an SMS has not been enabled for the region indicated by the 'To' number: ${to}.`,
  ],
  '+15005550004': () => [21610, 'Attempt to send to unsubscribed recipient'],
  '+15005550009': () => [21614, "'To' number is not a valid mobile number"],
};

export function createMessage(state: TwilioState, req: SimRequest): SimResponse {
  const { accountSid, fromNumber } = state.account;
  const form = req.form();
  const to = form.get('To');
  const from = form.get('From');
  const serviceSid = form.get('MessagingServiceSid');
  const body = form.get('Body');
  const statusCallback = form.get('StatusCallback');
  if (to === null || to === '') throw twilioError(400, 21604, "A 'To' phone number is required.");
  if (!isE164(to)) throw twilioError(400, 21211, `The 'To' number ${to} is not a valid phone number.`);
  if ((from === null || from === '') && (serviceSid === null || serviceSid === '')) {
    throw twilioError(400, 21603, "A 'From' phone number is required.");
  }
  if (serviceSid !== null && serviceSid !== '' && !/^MG[0-9a-fA-F]{32}$/.test(serviceSid)) {
    throw twilioError(400, 21701, `The Messaging Service Sid ${serviceSid} is invalid.`);
  }
  if (from !== null && from !== '') {
    if (!isE164(from) && !/^[A-Za-z0-9 ]{1,11}$/.test(from)) {
      throw twilioError(
        400,
        21212,
        `The 'From' number ${from} is not a valid phone number, shortcode, or alphanumeric sender ID.`,
      );
    }
    if (from !== fromNumber) {
      throw twilioError(
        400,
        21606,
        `The From phone number ${from} is not a valid, SMS-capable inbound phone number or short code for your account.`,
      );
    }
  }
  if (body === null || body === '') throw twilioError(400, 21602, 'Message body is required.');
  if (body.length > MAX_BODY_LENGTH) {
    throw twilioError(400, 21617, 'The concatenated message body exceeds the 1600 character limit.');
  }
  const magic = MAGIC_TO[to];
  if (magic !== undefined) {
    const [code, message] = magic(to, from ?? fromNumber);
    throw twilioError(400, code, message);
  }
  if (statusCallback !== null && statusCallback !== '' && !isHttpUrl(statusCallback)) {
    throw twilioError(400, 21609, `Invalid StatusCallback url: ${statusCallback}`);
  }

  const viaService = from === null || from === '';
  const message = buildMessage({
    sid: twilioSid('SM'),
    accountSid,
    to,
    from: viaService ? null : from,
    body,
    messagingServiceSid: serviceSid === null || serviceSid === '' ? null : serviceSid,
    // A Messaging Service picks the sender later; Twilio reports such messages as `accepted`.
    status: viaService ? 'accepted' : 'queued',
    createdAt: Date.now(),
  });
  if (viaService) message.from = fromNumber; // the sender the service's pool assigns
  state.messages.set(message.sid, message);
  state.created += 1;
  startDelivery(state, message, statusCallback === '' ? null : statusCallback);
  return { status: 201, body: message };
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

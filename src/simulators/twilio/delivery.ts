// A message's life after it is accepted: queued -> sent -> delivered (or undelivered for a `To` ending in
// 0000) on the configured delays, every change stored and posted, signed, to the message's StatusCallback.
import type { TwilioMessage, TwilioMessageStatus } from './messages.js';
import { withMessageStatus } from './messages.js';
import type { TwilioState } from './state.js';
import { statusCallbackDelivery } from './webhooks.js';

/** Sets a message's status now (stamping date_sent/price/error as Twilio would) and posts its callback, if any. */
export function setMessageStatus(
  state: TwilioState,
  sid: string,
  status: TwilioMessageStatus,
): TwilioMessage {
  const current = state.messages.get(sid);
  if (current === undefined) throw new TypeError(`no message with sid ${JSON.stringify(sid)}`);
  const next = withMessageStatus(current, status, Date.now());
  state.messages.set(sid, next);
  const callbackUrl = state.callbacks.get(sid);
  if (callbackUrl !== undefined) {
    state.outbox.send(statusCallbackDelivery(next, callbackUrl, state.account.authToken));
  }
  return next;
}

/** Posts the first callback of a new message (if it has one) and stages its later status changes. */
export function startDelivery(
  state: TwilioState,
  message: TwilioMessage,
  statusCallback: string | null,
): void {
  if (statusCallback !== null) {
    state.callbacks.set(message.sid, statusCallback);
    state.outbox.send(statusCallbackDelivery(message, statusCallback, state.account.authToken));
  }
  if (state.statusDelaysMs === null) return;
  const [toSent, toFinal] = state.statusDelaysMs;
  state.outbox.defer(toSent, () => {
    if (!state.messages.has(message.sid)) return;
    setMessageStatus(state, message.sid, 'sent');
    state.outbox.defer(toFinal, () => {
      if (!state.messages.has(message.sid)) return;
      setMessageStatus(state, message.sid, message.to.endsWith('0000') ? 'undelivered' : 'delivered');
    });
  });
}

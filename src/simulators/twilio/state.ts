// The Twilio account one simulator serves: its credentials and sender, its messages, where each wants
// its status callbacks, and counts of what the API created. Handlers take it as an argument.
import type { Outbox } from '../shared/outbox.js';
import type { TwilioMessage } from './messages.js';

export interface TwilioAccount {
  readonly accountSid: string;
  /** The primary auth token: a Basic password, and the key that signs status callbacks. */
  authToken: string;
  /** The secondary auth token, while one exists: a Basic password too, signing nothing (Twilio's rotation). */
  secondaryAuthToken: string | undefined;
  /** The account's sending number. */
  readonly fromNumber: string;
}

export interface TwilioState {
  readonly account: TwilioAccount;
  /** Live messages by SID (seeded and created); Map order is creation order. */
  readonly messages: Map<string, TwilioMessage>;
  /** StatusCallback URL of each message created with one. */
  readonly callbacks: Map<string, string>;
  /** Posts status callbacks and runs the staged status changes. */
  readonly outbox: Outbox;
  /** Waits in ms before a new message turns `sent`, then final; null leaves messages `queued`. */
  readonly statusDelaysMs: readonly [number, number] | null;
  /** Messages created through the API, until reset. */
  created: number;
}

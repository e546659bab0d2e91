// Twilio simulator: the 2010-04-01 Messages resource (create, fetch, filtered pages) with HTTP Basic
// auth, Twilio's error codes, messages that move queued -> sent -> delivered, and signed status callbacks.
// This file composes the parts: auth.ts, createMessage.ts, readMessages.ts and delivery.ts over state.ts.
import { createHash, randomBytes } from 'node:crypto';
import type { DeliveryAttempt } from '../shared/outbox.js';
import { createOutbox } from '../shared/outbox.js';
import type { ProviderSimulatorOptions, Simulator } from '../shared/simulator.js';
import { createSimulator } from '../shared/simulator.js';
import type { SimRequest, SimResponse } from '../shared/wire.js';
import { seedUsers as buildSeedUsers } from '../users/seed.js';
import { authenticate } from './auth.js';
import { createMessage } from './createMessage.js';
import { setMessageStatus } from './delivery.js';
import { twilioFaultError } from './errors.js';
import type { TwilioMessage, TwilioMessageStatus } from './messages.js';
import { fetchMessage, listMessages } from './readMessages.js';
import { DEMO_FROM_NUMBER, seedTwilio } from './seed.js';
import type { TwilioAccount, TwilioState } from './state.js';

export interface TwilioSimulatorOptions extends ProviderSimulatorOptions {
  /** Account SID accepted as the Basic user name and in paths. Default: `AC` + 32 hex, fixed for the demo. */
  accountSid?: string;
  /** Auth token accepted as the Basic password; also the key that signs status callbacks. Default: 32 hex, fixed for the demo. */
  authToken?: string;
  /** The account's sending number; `From` must be this. Default: `+15005550006` (Twilio's always-valid test number). */
  fromNumber?: string;
  /** Seeded users (via the users seed) whose messages exist at start; 0 starts empty. Default: 1000. */
  seedUsers?: number;
  /**
   * Waits in ms before a new message turns `sent`, then `delivered` (or `undelivered` for a `To` ending
   * in 0000); each change is stored and posted to its StatusCallback. `null` leaves messages `queued`.
   * Default: [50, 100].
   */
  statusDelaysMs?: readonly [number, number] | null;
  /** Waits before retrying a failed status callback, in ms. Default: [] (Twilio does not retry them). */
  callbackRetryDelaysMs?: readonly number[];
}

export interface TwilioSimulator extends Simulator {
  /** Live messages by SID (seeded and created); Map order is creation order. */
  readonly messages: Map<string, TwilioMessage>;
  readonly accountSid: string;
  readonly authToken: string;
  readonly fromNumber: string;
  /** Every status callback attempt, in the order they finished. */
  readonly callbackDeliveries: DeliveryAttempt[];
  /** Resolves once every scheduled status change and callback so far has happened. */
  flushCallbacks(): Promise<void>;
  /** Sets a message's status now (stamping date_sent/price/error as Twilio would) and posts its callback, if any. */
  setMessageStatus(sid: string, status: TwilioMessageStatus): TwilioMessage;
  /** Messages created through the API since creation or `resetCounters()`. */
  createdCount(): number;
  /**
   * Twilio's auth token rotation: creates the secondary token (accepted for API calls beside the
   * primary, `authToken`, which still signs callbacks). Default: a random one. Returns it.
   */
  createSecondaryAuthToken(token?: string): string;
  /** Makes the secondary token the primary (it signs callbacks from now on); the old primary stops working at once. */
  promoteSecondaryAuthToken(): void;
}

/** Route names, for counters and fault matching. */
export const TWILIO_ROUTES = {
  createMessage: 'POST /2010-04-01/Accounts/:AccountSid/Messages.json',
  listMessages: 'GET /2010-04-01/Accounts/:AccountSid/Messages.json',
  fetchMessage: 'GET /2010-04-01/Accounts/:AccountSid/Messages/:Sid.json',
} as const;

export const DEFAULT_TWILIO_ACCOUNT_SID = `AC${demoHex('account')}`;
export const DEFAULT_TWILIO_AUTH_TOKEN = demoHex('auth-token');

export function createTwilioSimulator(opts: TwilioSimulatorOptions = {}): TwilioSimulator {
  const account: TwilioAccount = {
    accountSid: opts.accountSid ?? DEFAULT_TWILIO_ACCOUNT_SID,
    authToken: opts.authToken ?? DEFAULT_TWILIO_AUTH_TOKEN,
    secondaryAuthToken: undefined,
    fromNumber: opts.fromNumber ?? DEMO_FROM_NUMBER,
  };
  const statusDelaysMs = opts.statusDelaysMs === undefined ? ([50, 100] as const) : opts.statusDelaysMs;
  if (statusDelaysMs !== null && !statusDelaysMs.every((d) => Number.isFinite(d) && d >= 0)) {
    throw new TypeError(
      `statusDelaysMs must be two finite numbers of ms >= 0 or null, but got: ${JSON.stringify(statusDelaysMs)}`,
    );
  }
  const state: TwilioState = {
    account,
    messages: new Map(seedTwilio(buildSeedUsers(opts.seedUsers ?? 1000), account).map((m) => [m.sid, m])),
    callbacks: new Map(),
    outbox: createOutbox({ retryDelaysMs: opts.callbackRetryDelaysMs ?? [] }),
    statusDelaysMs,
    created: 0,
  };
  /** Every route checks the account's credentials before its handler runs. */
  const authenticated =
    (handler: (state: TwilioState, req: SimRequest) => SimResponse) =>
    (req: SimRequest): SimResponse => {
      authenticate(req, account);
      return handler(state, req);
    };

  const sim = createSimulator({
    name: 'twilio',
    host: opts.host,
    port: opts.port,
    requestIdHeader: 'twilio-request-id',
    faults: opts.faults,
    errorShape: twilioFaultError,
    routes: [
      {
        method: 'POST',
        path: '/2010-04-01/Accounts/:AccountSid/Messages.json',
        handler: authenticated(createMessage),
      },
      {
        method: 'GET',
        path: '/2010-04-01/Accounts/:AccountSid/Messages.json',
        handler: authenticated(listMessages),
      },
      {
        method: 'GET',
        path: '/2010-04-01/Accounts/:AccountSid/Messages/:Sid.json',
        handler: authenticated(fetchMessage),
      },
    ],
    onClose: () => state.outbox.close(),
    onReset: () => {
      state.created = 0;
    },
  });

  const own: Omit<TwilioSimulator, keyof Simulator | 'authToken'> = {
    messages: state.messages,
    accountSid: account.accountSid,
    fromNumber: account.fromNumber,
    callbackDeliveries: state.outbox.attempts,
    flushCallbacks: () => state.outbox.flush(),
    setMessageStatus: (sid, status) => setMessageStatus(state, sid, status),
    createdCount: () => state.created,
    createSecondaryAuthToken(token = randomBytes(16).toString('hex')) {
      if (!/^[0-9a-f]{32}$/.test(token)) throw new TypeError('auth token: expected 32 lowercase hex digits');
      account.secondaryAuthToken = token;
      return token;
    },
    promoteSecondaryAuthToken() {
      if (account.secondaryAuthToken === undefined) throw new Error('no secondary auth token to promote');
      account.authToken = account.secondaryAuthToken;
      account.secondaryAuthToken = undefined;
    },
  };
  // The primary token changes on promotion: read it live.
  return Object.defineProperty(Object.assign(sim, own), 'authToken', {
    get: () => account.authToken,
    enumerable: true,
  }) as TwilioSimulator;
}

function demoHex(purpose: string): string {
  return createHash('sha256').update(`junction-demo:twilio:${purpose}`).digest('hex').slice(0, 32);
}

// Twilio simulator: the 2010-04-01 Messages resource (create, fetch, filtered pages) with HTTP Basic
// auth, Twilio's error codes, messages that move queued -> sent -> delivered, and signed status callbacks.
import { createHash } from 'node:crypto';
import type { DeliveryAttempt } from '../shared/outbox.js';
import { createOutbox } from '../shared/outbox.js';
import type { Route } from '../shared/router.js';
import type { ProviderSimulatorOptions, Simulator } from '../shared/simulator.js';
import { createSimulator } from '../shared/simulator.js';
import type { SimRequest, SimResponse } from '../shared/wire.js';
import { SimHttpError } from '../shared/wire.js';
import { seedUsers as buildSeedUsers } from '../users/seed.js';
import type { TwilioMessage, TwilioMessageStatus } from './messages.js';
import { buildMessage, isE164, TWILIO_API_VERSION, twilioSid, withMessageStatus } from './messages.js';
import { DEMO_FROM_NUMBER, seedTwilio } from './seed.js';
import { statusCallbackDelivery } from './webhooks.js';

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
}

/** Route names, for counters and fault matching. */
export const TWILIO_ROUTES = {
  createMessage: 'POST /2010-04-01/Accounts/:AccountSid/Messages.json',
  listMessages: 'GET /2010-04-01/Accounts/:AccountSid/Messages.json',
  fetchMessage: 'GET /2010-04-01/Accounts/:AccountSid/Messages/:Sid.json',
} as const;

export const DEFAULT_TWILIO_ACCOUNT_SID = `AC${demoHex('account')}`;
export const DEFAULT_TWILIO_AUTH_TOKEN = demoHex('auth-token');

const DEFAULT_PAGE_SIZE = 50;
const MAX_PAGE_SIZE = 1000;
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

export function createTwilioSimulator(opts: TwilioSimulatorOptions = {}): TwilioSimulator {
  const accountSid = opts.accountSid ?? DEFAULT_TWILIO_ACCOUNT_SID;
  const authToken = opts.authToken ?? DEFAULT_TWILIO_AUTH_TOKEN;
  const fromNumber = opts.fromNumber ?? DEMO_FROM_NUMBER;
  const statusDelaysMs = opts.statusDelaysMs === undefined ? ([50, 100] as const) : opts.statusDelaysMs;
  if (statusDelaysMs !== null && !statusDelaysMs.every((d) => Number.isFinite(d) && d >= 0)) {
    throw new TypeError(
      `statusDelaysMs must be two finite numbers of ms >= 0 or null, but got: ${JSON.stringify(statusDelaysMs)}`,
    );
  }
  const messages = new Map(
    seedTwilio(buildSeedUsers(opts.seedUsers ?? 1000), { accountSid, fromNumber }).map((m) => [m.sid, m]),
  );
  /** StatusCallback URL of each message created with one. */
  const callbacks = new Map<string, string>();
  const outbox = createOutbox({ retryDelaysMs: opts.callbackRetryDelaysMs ?? [] });
  let created = 0;

  const authenticate = (req: SimRequest): void => {
    const basic = /^Basic\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
    const decoded = basic === undefined ? '' : Buffer.from(basic, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const user = colon < 0 ? decoded : decoded.slice(0, colon);
    const password = colon < 0 ? '' : decoded.slice(colon + 1);
    if (user !== accountSid || password !== authToken || req.params.AccountSid !== accountSid) {
      throw twilioError(401, 20003, 'Authenticate', { 'www-authenticate': 'Basic realm="Twilio API"' });
    }
  };

  const setStatus = (sid: string, status: TwilioMessageStatus): TwilioMessage => {
    const current = messages.get(sid);
    if (current === undefined) throw new TypeError(`no message with sid ${JSON.stringify(sid)}`);
    const next = withMessageStatus(current, status, Date.now());
    messages.set(sid, next);
    const callbackUrl = callbacks.get(sid);
    if (callbackUrl !== undefined) outbox.send(statusCallbackDelivery(next, callbackUrl, authToken));
    return next;
  };

  const scheduleDelivery = (message: TwilioMessage): void => {
    if (statusDelaysMs === null) return;
    const [toSent, toFinal] = statusDelaysMs;
    outbox.defer(toSent, () => {
      if (!messages.has(message.sid)) return;
      setStatus(message.sid, 'sent');
      outbox.defer(toFinal, () => {
        if (!messages.has(message.sid)) return;
        setStatus(message.sid, message.to.endsWith('0000') ? 'undelivered' : 'delivered');
      });
    });
  };

  const createMessage = (req: SimRequest): SimResponse => {
    authenticate(req);
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
    messages.set(message.sid, message);
    created += 1;
    if (statusCallback !== null && statusCallback !== '') {
      callbacks.set(message.sid, statusCallback);
      outbox.send(statusCallbackDelivery(message, statusCallback, authToken));
    }
    scheduleDelivery(message);
    return { status: 201, body: message };
  };

  const fetchMessage = (req: SimRequest): SimResponse => {
    authenticate(req);
    const message = messages.get(req.params.Sid ?? '');
    if (message === undefined) {
      throw twilioError(404, 20404, `The requested resource ${req.path} was not found`);
    }
    return { status: 200, body: message };
  };

  const listMessages = (req: SimRequest): SimResponse => {
    authenticate(req);
    const q = req.query;
    const pageSize = parsePageSize(q.get('PageSize'));
    const page = parseNonNegative(q.get('Page'), 'Page') ?? 0;
    const filters = new URLSearchParams();
    for (const name of ['To', 'From', 'DateSent', 'DateSent<', 'DateSent>']) {
      const value = q.get(name);
      if (value !== null && value !== '') filters.set(name, value);
    }
    const dateFilters = [...filters]
      .filter(([name]) => name.startsWith('DateSent'))
      .map(([name, value]) => dateSentFilter(name, value));

    const ranked = [...messages.values()].map((m, index) => ({ m, index, at: Date.parse(m.date_created) }));
    const rankOf = new Map(ranked.map((r) => [r.m.sid, r]));
    const newerFirst = (a: (typeof ranked)[number], b: (typeof ranked)[number]) =>
      b.at - a.at || b.index - a.index;
    const matching = ranked
      .filter(
        (r) =>
          r.m.account_sid === accountSid &&
          (filters.get('To') === null || r.m.to === filters.get('To')) &&
          (filters.get('From') === null || r.m.from === filters.get('From')) &&
          dateFilters.every((keep) => keep(r.m)),
      )
      .sort(newerFirst);

    // PageToken is `PA<sid>` (the page after that message) or `PB<sid>` (the page before), like Twilio's.
    const token = q.get('PageToken');
    let rows: typeof matching;
    if (token !== null && token !== '') {
      const cursor = /^P[AB]/.test(token) ? rankOf.get(token.slice(2)) : undefined;
      if (cursor === undefined) throw twilioError(400, 20001, `Invalid PageToken: ${token}`);
      if (token.startsWith('PA')) {
        rows = matching.filter((r) => newerFirst(r, cursor) > 0).slice(0, pageSize);
      } else {
        const before = matching.filter((r) => newerFirst(r, cursor) < 0);
        rows = before.slice(Math.max(0, before.length - pageSize));
      }
    } else {
      rows = matching.slice(page * pageSize, (page + 1) * pageSize);
    }
    const first = rows[0];
    const last = rows.at(-1);
    const hasNext = last !== undefined && matching.some((r) => newerFirst(r, last) > 0);
    const hasPrevious = page > 0 && first !== undefined;

    const listPath = `/${TWILIO_API_VERSION}/Accounts/${accountSid}/Messages.json`;
    const pageUri = (pageNumber: number, pageToken?: string): string => {
      const params = new URLSearchParams(filters);
      params.set('PageSize', String(pageSize));
      params.set('Page', String(pageNumber));
      if (pageToken !== undefined) params.set('PageToken', pageToken);
      return `${listPath}?${params.toString()}`;
    };
    const start = page * pageSize;
    const rawQuery = req.query.toString();
    return {
      status: 200,
      body: {
        end: rows.length > 0 ? start + rows.length - 1 : start,
        first_page_uri: pageUri(0),
        messages: rows.map((r) => r.m),
        next_page_uri: hasNext && last !== undefined ? pageUri(page + 1, `PA${last.m.sid}`) : null,
        page,
        page_size: pageSize,
        previous_page_uri: hasPrevious && first !== undefined ? pageUri(page - 1, `PB${first.m.sid}`) : null,
        start,
        uri: rawQuery === '' ? req.path : `${req.path}?${rawQuery}`,
      },
    };
  };

  const faultShape = (status: number) => ({
    body: twilioErrorBody(status, 20000 + status, faultMessage(status)),
  });
  const sim = createSimulator({
    name: 'twilio',
    host: opts.host,
    port: opts.port,
    requestIdHeader: 'twilio-request-id',
    faults: opts.faults,
    errorShape: faultShape,
    routes: [
      route('POST', '/2010-04-01/Accounts/:AccountSid/Messages.json', createMessage),
      route('GET', '/2010-04-01/Accounts/:AccountSid/Messages.json', listMessages),
      route('GET', '/2010-04-01/Accounts/:AccountSid/Messages/:Sid.json', fetchMessage),
    ],
    onClose: () => outbox.close(),
    onReset: () => {
      created = 0;
    },
  });

  const own: Omit<TwilioSimulator, keyof Simulator> = {
    messages,
    accountSid,
    authToken,
    fromNumber,
    callbackDeliveries: outbox.attempts,
    flushCallbacks: () => outbox.flush(),
    setMessageStatus: setStatus,
    createdCount: () => created,
  };
  return Object.assign(sim, own);
}

/** Twilio's REST error body. */
export interface TwilioErrorBody {
  code: number;
  message: string;
  more_info: string;
  status: number;
}

/** A Twilio REST error: `{code, message, more_info, status}` with Twilio's docs link for the code. */
export class TwilioApiError extends SimHttpError {
  readonly code: number;
  constructor(status: number, code: number, message: string, headers: Record<string, string> = {}) {
    super(status, message, twilioErrorBody(status, code, message), headers);
    this.name = 'TwilioApiError';
    this.code = code;
  }
}

function twilioErrorBody(status: number, code: number, message: string): TwilioErrorBody {
  return { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status };
}

/** A route whose TwilioApiErrors become answers with their headers (SimHttpError alone carries none). */
function route(method: string, path: string, handler: (req: SimRequest) => SimResponse): Route {
  return {
    method,
    path,
    handler: (req) => {
      try {
        return handler(req);
      } catch (error) {
        if (error instanceof TwilioApiError)
          return { status: error.status, headers: error.headers, body: error.body };
        throw error;
      }
    },
  };
}

function twilioError(
  status: number,
  code: number,
  message: string,
  headers: Record<string, string> = {},
): TwilioApiError {
  return new TwilioApiError(status, code, message, headers);
}

function faultMessage(status: number): string {
  if (status === 429) return 'Too Many Requests';
  if (status === 503) return 'Service Unavailable';
  if (status >= 500) return 'Internal Server Error';
  return `Simulated fault: status ${status}`;
}

function demoHex(purpose: string): string {
  return createHash('sha256').update(`junction-demo:twilio:${purpose}`).digest('hex').slice(0, 32);
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

function parsePageSize(raw: string | null): number {
  const size = parseNonNegative(raw, 'PageSize') ?? DEFAULT_PAGE_SIZE;
  if (size < 1) throw twilioError(400, 20001, `Invalid PageSize: ${raw}`);
  return Math.min(size, MAX_PAGE_SIZE);
}

function parseNonNegative(raw: string | null, name: string): number | undefined {
  if (raw === null || raw === '') return undefined;
  if (!/^\d+$/.test(raw)) throw twilioError(400, 20001, `Invalid ${name}: ${raw}`);
  return Number(raw);
}

/**
 * `DateSent=YYYY-MM-DD` keeps messages sent that UTC day; `DateSent<` / `DateSent>` keep those sent on
 * or before / on or after it. A full timestamp instead of a date compares instants.
 */
function dateSentFilter(name: string, value: string): (m: TwilioMessage) => boolean {
  const dayOnly = /^\d{4}-\d{2}-\d{2}$/.test(value);
  const bound = Date.parse(dayOnly ? `${value}T00:00:00Z` : value);
  if (Number.isNaN(bound)) throw twilioError(400, 20001, `Invalid ${name}: ${value}`);
  const dayMs = 24 * 60 * 60 * 1000;
  return (m) => {
    if (m.date_sent === null) return false;
    const sent = Date.parse(m.date_sent);
    const day = dayOnly ? Math.floor(sent / dayMs) * dayMs : sent;
    if (name === 'DateSent<') return day <= bound;
    if (name === 'DateSent>') return day >= bound;
    return dayOnly ? day === bound : sent === bound;
  };
}

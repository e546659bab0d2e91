// Reading messages: fetch one by SID, and list the account's messages newest first, filtered by To,
// From and DateSent, paged by Page/PageSize or Twilio's PageToken with its page URIs.
import { lastN, newestFirst } from '../shared/newestFirst.js';
import type { SimRequest, SimResponse } from '../shared/wire.js';
import { twilioError } from './errors.js';
import type { TwilioMessage } from './messages.js';
import { TWILIO_API_VERSION } from './messages.js';
import type { TwilioState } from './state.js';

const DEFAULT_PAGE_SIZE = 50;
const MAX_PAGE_SIZE = 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

/** `GET /Accounts/{Sid}/Messages/{Sid}.json` */
export function fetchMessage(state: TwilioState, req: SimRequest): SimResponse {
  const message = state.messages.get(req.params.Sid ?? '');
  if (message === undefined) {
    throw twilioError(404, 20404, `The requested resource ${req.path} was not found`);
  }
  return { status: 200, body: message };
}

/** `GET /Accounts/{Sid}/Messages.json` */
export function listMessages(state: TwilioState, req: SimRequest): SimResponse {
  const { accountSid } = state.account;
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

  const list = newestFirst(state.messages.values(), {
    key: (m) => m.sid,
    createdAt: (m) => Date.parse(m.date_created),
    keep: (m) =>
      m.account_sid === accountSid &&
      (filters.get('To') === null || m.to === filters.get('To')) &&
      (filters.get('From') === null || m.from === filters.get('From')) &&
      dateFilters.every((keep) => keep(m)),
  });

  // PageToken is `PA<sid>` (the page after that message) or `PB<sid>` (the page before), like Twilio's.
  const token = q.get('PageToken');
  let rows: readonly TwilioMessage[];
  if (token !== null && token !== '') {
    const sid = token.slice(2);
    const around = token.startsWith('PA')
      ? list.olderThan(sid)
      : token.startsWith('PB')
        ? list.newerThan(sid)
        : undefined;
    if (around === undefined) throw twilioError(400, 20001, `Invalid PageToken: ${token}`);
    rows = token.startsWith('PA') ? around.slice(0, pageSize) : lastN(around, pageSize);
  } else {
    rows = list.items.slice(page * pageSize, (page + 1) * pageSize);
  }
  const first = rows[0];
  const last = rows.at(-1);
  // Items are newest first, so a next page exists when anything stands after `last`.
  const hasNext = last !== undefined && list.items.indexOf(last) < list.items.length - 1;
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
      messages: rows,
      next_page_uri: hasNext ? pageUri(page + 1, `PA${last.sid}`) : null,
      page,
      page_size: pageSize,
      previous_page_uri: hasPrevious ? pageUri(page - 1, `PB${first.sid}`) : null,
      start,
      uri: rawQuery === '' ? req.path : `${req.path}?${rawQuery}`,
    },
  };
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
  return (m) => {
    if (m.date_sent === null) return false;
    const sent = Date.parse(m.date_sent);
    const day = dayOnly ? Math.floor(sent / DAY_MS) * DAY_MS : sent;
    if (name === 'DateSent<') return day <= bound;
    if (name === 'DateSent>') return day >= bound;
    return dayOnly ? day === bound : sent === bound;
  };
}

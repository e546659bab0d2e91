// Twilio client: send an SMS and list the messages sent to a number. Paging follows Twilio's
// next_page_uri, but only its page token travels in our cursors: path and filters are rebuilt here,
// so a forged cursor can never widen what is listed.

import type { Connection } from '../../models/connection.js';
import type { Message } from '../../models/messaging.js';
import { type CachePolicy, cacheKey, type ResponseCache } from '../../upstream/cache.js';
import type { CallContext } from '../../upstream/callContext.js';
import { type RawResponse, RestClient, type RestClientOptions } from '../../upstream/client.js';
import {
  type UpstreamError,
  type UpstreamErrorDetails,
  UpstreamInputError,
  UpstreamNotFoundError,
  UpstreamRateLimitedError,
  UpstreamRejectedError,
} from '../../upstream/errors.js';
import { InvalidCursorError, paginate, type UpstreamPage } from '../../upstream/pagination.js';
import { toMessage } from './mapping.js';
import { twilioErrorSchema, twilioMessageListSchema, twilioMessageSchema } from './types.js';

export const TWILIO_PROVIDER = 'twilio';

/** Twilio error codes that mean "the caller's input is wrong", and the input they are about. */
const INPUT_ERRORS: Record<number, string> = {
  21211: 'to', // invalid 'To' phone number
  21614: 'to', // 'To' is not a mobile number
  21612: 'to', // cannot route to this number
  21408: 'to', // region not enabled
  21610: 'to', // recipient unsubscribed (STOP)
  21602: 'body', // body required
  21617: 'body', // body too long
  21603: 'from', // from required
  21606: 'from', // 'From' is not a valid, SMS-capable number
};

export interface TwilioClientOptions extends Omit<RestClientOptions, 'provider'> {
  accountSid: string;
  /** The number SMS are sent from (`sendSms`). */
  fromNumber?: string;
  /** Where Twilio posts status callbacks (this Junction's `/webhooks/twilio`); undefined: none asked. */
  statusCallbackUrl?: () => string | undefined;
  cache: ResponseCache;
  /** Message lists: short TTL, invalidated by sends and status callbacks. Default 15 s. */
  messagesCachePolicy?: CachePolicy;
}

export class TwilioClient extends RestClient {
  /** Largest page we ask for (Twilio allows 1000; connections cap `first` at 100). */
  readonly maxPageSize = 100;
  private readonly accountSid: string;
  private readonly fromNumber: string | undefined;
  private readonly statusCallbackUrl: () => string | undefined;
  private readonly cache: ResponseCache;
  private readonly messagesPolicy: CachePolicy;

  constructor(options: TwilioClientOptions) {
    super({ requestIdHeaders: ['twilio-request-id', 'x-request-id'], ...options, provider: TWILIO_PROVIDER });
    this.accountSid = options.accountSid;
    this.fromNumber = options.fromNumber;
    this.statusCallbackUrl = options.statusCallbackUrl ?? (() => undefined);
    this.cache = options.cache;
    this.messagesPolicy = options.messagesCachePolicy ?? { ttlSeconds: 15, staleIfErrorSeconds: 300 };
  }

  private get messagesPath(): string {
    return `/2010-04-01/Accounts/${encodeURIComponent(this.accountSid)}/Messages.json`;
  }

  /**
   * Sends `body` to a user's phone from the configured number. The user id rides in the status
   * callback URL, which Twilio signs: a status update can then be pushed to that user's
   * subscribers without a reverse lookup by phone number.
   */
  sendSms(params: { to: string; body: string; userId: string }, ctx: CallContext): Promise<Message> {
    if (this.fromNumber === undefined) throw new TypeError('TwilioClient: sendSms needs fromNumber');
    const callback = this.statusCallbackUrl();
    const statusCallback = callback ? `${callback}?userId=${encodeURIComponent(params.userId)}` : undefined;
    return this.sendMessage({ to: params.to, from: this.fromNumber, body: params.body, statusCallback }, ctx);
  }

  /** Sends an SMS. Not retried once it may have reached Twilio: SMS has no idempotency key. */
  async sendMessage(
    params: { to: string; from: string; body: string; statusCallback?: string | undefined },
    ctx: CallContext,
  ): Promise<Message> {
    const form = new URLSearchParams({ To: params.to, From: params.from, Body: params.body });
    if (params.statusCallback) form.set('StatusCallback', params.statusCallback);
    const m = await this.request(
      {
        method: 'POST',
        path: this.messagesPath,
        route: 'POST /Accounts/:sid/Messages.json',
        form,
        schema: twilioMessageSchema,
      },
      ctx,
    );
    this.invalidateMessages(params.to);
    return toMessage(m);
  }

  /** One message by its SID (not cached: used right after a status change). */
  async getMessage(sid: string, ctx: CallContext): Promise<Message> {
    const path = `/2010-04-01/Accounts/${encodeURIComponent(this.accountSid)}/Messages/${encodeURIComponent(sid)}.json`;
    const m = await this.request(
      { method: 'GET', path, route: 'GET /Accounts/:sid/Messages/:sid.json', schema: twilioMessageSchema },
      ctx,
    );
    return toMessage(m);
  }

  /** One page of messages sent to `to`, newest first. `pageToken` is an opaque cursor from a previous page. */
  /** A window of the messages sent to `to`, newest first, as a connection. */
  messagesPage(
    to: string,
    window: { first: number; after: string | null | undefined },
    ctx: CallContext,
  ): Promise<Connection<Message>> {
    return paginate({
      namespace: `messages:${to}`,
      first: window.first,
      after: window.after,
      maxPageSize: this.maxPageSize,
      fetchPage: (cursor, limit) => this.listMessagesTo(to, { limit, pageToken: cursor }, ctx),
    });
  }

  async listMessagesTo(
    to: string,
    page: { limit: number; pageToken: string | null },
    ctx: CallContext,
  ): Promise<UpstreamPage<Message>> {
    const { value } = await this.cache.getOrLoad<UpstreamPage<Message>>(
      cacheKey(this.provider, this.credentialId, 'messages', `${to}|${page.pageToken ?? ''}|${page.limit}`),
      this.provider,
      this.messagesPolicy,
      async (_stale, loadCtx) => {
        const query = new URLSearchParams({ To: to, PageSize: String(page.limit) });
        if (page.pageToken) {
          const { page: pageNumber, token } = decodePageToken(page.pageToken);
          query.set('Page', pageNumber);
          query.set('PageToken', token);
        }
        const list = await this.request(
          {
            method: 'GET',
            path: this.messagesPath,
            route: 'GET /Accounts/:sid/Messages.json',
            query,
            schema: twilioMessageListSchema,
          },
          loadCtx,
        );
        return {
          kind: 'value' as const,
          value: { items: list.messages.map(toMessage), next: pageTokenFrom(list.next_page_uri) },
        };
      },
      ctx,
    );
    return value;
  }

  invalidateMessages(to: string): void {
    this.cache.invalidatePrefix(cacheKey(this.provider, this.credentialId, 'messages', `${to}|`));
  }

  /** Reads Twilio's `{code, message, more_info, status}`. */
  protected override errorFromResponse(
    res: RawResponse,
    spec: Parameters<RestClient['errorFromResponse']>[1],
  ): UpstreamError {
    let body: ReturnType<typeof twilioErrorSchema.parse>;
    try {
      body = twilioErrorSchema.parse(JSON.parse(res.body));
    } catch {
      return super.errorFromResponse(res, spec);
    }
    const details: UpstreamErrorDetails = { ...this.responseDetails(res), upstreamCode: String(body.code) };
    const field = INPUT_ERRORS[body.code];
    if (field !== undefined) {
      return new UpstreamInputError((body.message ?? `Twilio error ${body.code}`).slice(0, 300), {
        ...details,
        field,
      });
    }
    if (res.status === 429 || body.code === 20429)
      return new UpstreamRateLimitedError(`twilio rate limited (${body.code})`, details);
    if (res.status === 401 || res.status === 403) {
      return new UpstreamRejectedError(`twilio refused Junction's credentials (${body.code})`, {
        ...details,
      });
    }
    if (res.status === 404) return new UpstreamNotFoundError(`twilio: not found (${body.code})`, details);
    return super.errorFromResponse(res, spec);
  }
}

/** Keeps only Page and PageToken of a next_page_uri; null on the last page. */
export function pageTokenFrom(nextPageUri: string | null): string | null {
  if (!nextPageUri) return null;
  const query = new URL(nextPageUri, 'https://api.twilio.com').searchParams;
  const token = query.get('PageToken');
  if (!token) return null;
  return JSON.stringify({ page: query.get('Page') ?? '1', token });
}

function decodePageToken(value: string): { page: string; token: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new InvalidCursorError(value);
  }
  if (
    typeof parsed === 'object' &&
    parsed !== null &&
    typeof (parsed as { page?: unknown }).page === 'string' &&
    /^\d{1,6}$/.test((parsed as { page: string }).page) &&
    typeof (parsed as { token?: unknown }).token === 'string' &&
    /^[A-Za-z0-9_-]{1,128}$/.test((parsed as { token: string }).token)
  ) {
    return parsed as { page: string; token: string };
  }
  throw new InvalidCursorError(value);
}

// Pluggable upstream auth: API key header, bearer, HTTP Basic and OAuth2 client credentials.
// A strategy adds credentials to a request and, for OAuth2, refreshes its token after a 401.
// Secrets are read when a request is authorized (never kept from startup), so a rotated secret
// file is used from the next request on; requests in flight keep the credential they were sent with.
import { createHash } from 'node:crypto';
import { type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { type Dispatcher, request } from 'undici';
import { z } from 'zod';
import { type Secret, type SecretInput, toSecret } from '../secrets.js';
import { raceAbort } from './abort.js';
import {
  UpstreamBadResponseError,
  UpstreamRateLimitedError,
  UpstreamRejectedError,
  UpstreamUnavailableError,
} from './errors.js';
import { pickRateLimitHeaders, retryAfterSecondsFrom } from './rateLimitHeaders.js';
import { ATTR, type UpstreamTracing } from './tracing.js';

export interface AuthStrategy {
  /** `oauth2-user`: a connected user's own token, chosen per call (accounts/userAuth.ts). */
  readonly kind: 'bearer' | 'basic' | 'oauth2-client-credentials' | 'oauth2-user';
  /**
   * Non-secret fingerprint of the credential (a truncated SHA-256). Caches and rate limiters are
   * keyed by it, so two credentials never share an entry or a bucket. Taken from the value at
   * startup and kept when the secret rotates: a rotated key is the same account, and a webhook's
   * cache invalidation must still find the entries stored before the rotation.
   */
  readonly credentialId: string;
  /** Writes the credential into `headers`. Returns the credential used, for `refreshAfterUnauthorized`. */
  authorize(headers: Record<string, string>, signal?: AbortSignal): Promise<string | undefined>;
  /**
   * Called when the provider answered 401 to a request sent with credential `used`. Resolves true
   * when a different credential is now available, so one retry is worth it; static secrets say false.
   */
  refreshAfterUnauthorized(used: string | undefined, signal?: AbortSignal): Promise<boolean>;
}

/** SHA-256 of the secret, first 16 hex chars: stable, safe to log, useless to an attacker. */
export function fingerprint(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 16);
}

/** A credential that is one header value, rebuilt from its secret when the secret changes. */
abstract class StaticAuth implements AuthStrategy {
  abstract readonly kind: AuthStrategy['kind'];
  readonly credentialId: string;
  private readonly value: Secret<string>;
  constructor(
    private readonly header: string,
    value: Secret<string>,
  ) {
    this.value = value;
    this.credentialId = fingerprint(header, value.current());
  }
  async authorize(headers: Record<string, string>): Promise<string> {
    const value = this.value.current();
    headers[this.header] = value;
    return value;
  }
  /** A 401 to a request sent just before the secret changed is worth one retry with the new one. */
  async refreshAfterUnauthorized(used: string | undefined): Promise<boolean> {
    return used !== undefined && used !== this.value.current();
  }
}

/** `Authorization: Bearer <token>` with a static token (Stripe secret key, SendGrid API key). */
export class BearerAuth extends StaticAuth {
  readonly kind = 'bearer' as const;
  constructor(token: SecretInput<string>) {
    super(
      'authorization',
      toSecret('bearer token', token).map((t) => `Bearer ${t}`),
    );
  }
}

/** HTTP Basic (`Authorization: Basic base64(user:password)`), e.g. Twilio's SID and auth token. */
export class BasicAuth extends StaticAuth {
  readonly kind = 'basic' as const;
  constructor(username: string, password: SecretInput<string>) {
    super(
      'authorization',
      toSecret('password', password).map(
        (p) => `Basic ${Buffer.from(`${username}:${p}`).toString('base64')}`,
      ),
    );
  }
}

export interface OAuth2ClientCredentialsOptions {
  /** Provider name, for errors. */
  provider: string;
  /** Absolute URL of the token endpoint. */
  tokenUrl: string;
  clientId: string;
  /**
   * Read for each token request. When it changes, the cached token is dropped and the next request
   * fetches one with the new secret; requests already holding the old token finish with it.
   */
  clientSecret: SecretInput<string>;
  /** Optional space-separated scopes; omitted from the request when undefined. */
  scope?: string | undefined;
  /**
   * Refresh this many seconds before the token's `expires_in` runs out, so a token never expires
   * in flight. Default 30 s. Trap: a skew larger than the provider's lifetime refreshes every call.
   */
  refreshSkewSeconds?: number;
  /** Timeout for one token request in ms. Default 5000 ms. */
  timeoutMs?: number;
  /** undici dispatcher (pool) to send the token request on; default: undici's global agent. */
  dispatcher?: Dispatcher | undefined;
  /** Clock in ms, replaceable in tests. Default `Date.now`. */
  now?: () => number;
  /** Longest Retry-After of the token endpoint passed on in a rate-limited error, in ms. Default 60000 ms (60 s). */
  maxPauseMs?: number | undefined;
  /**
   * Traces: a token request is a span of the call that needed it (the active one) and carries its
   * `traceparent`. Default undefined: no span, no header.
   */
  tracing?: UpstreamTracing | undefined;
}

const tokenResponseSchema = z.object({
  access_token: z.string().min(1),
  token_type: z.string().regex(/^bearer$/i, 'token_type must be Bearer'),
  expires_in: z.coerce.number().positive().optional(),
});

interface CachedToken {
  value: string;
  /** ms epoch after which we stop using it. */
  refreshAt: number;
}

/**
 * OAuth2 client-credentials grant (RFC 6749 §4.4). The token is cached until `refreshSkewSeconds`
 * before it expires; however many requests need a token at once, only one refresh is in flight.
 */
export class OAuth2ClientCredentialsAuth implements AuthStrategy {
  readonly kind = 'oauth2-client-credentials' as const;
  readonly credentialId: string;
  private token: CachedToken | undefined;
  private inflight: Promise<CachedToken> | undefined;
  private refreshes = 0;
  /** Bumped when the client secret changes: a token fetched with an older secret is not cached. */
  private generation = 0;
  private readonly now: () => number;
  private readonly clientSecret: Secret<string>;

  constructor(private readonly options: OAuth2ClientCredentialsOptions) {
    this.clientSecret = toSecret('client secret', options.clientSecret);
    this.credentialId = fingerprint(options.tokenUrl, options.clientId, this.clientSecret.current());
    this.now = options.now ?? Date.now;
    this.clientSecret.onChange(() => {
      this.generation += 1;
      this.token = undefined;
      this.inflight = undefined;
    });
  }

  /** How many token requests were made: for tests and metrics. */
  get refreshCount(): number {
    return this.refreshes;
  }

  async authorize(headers: Record<string, string>, signal?: AbortSignal): Promise<string> {
    const token = await this.currentToken(signal);
    headers.authorization = `Bearer ${token.value}`;
    return token.value;
  }

  async refreshAfterUnauthorized(used: string | undefined, signal?: AbortSignal): Promise<boolean> {
    // Only the first 401 for a given token throws it away; concurrent 401s for the same token
    // then share the one refresh instead of each starting their own.
    if (this.token && this.token.value === used) this.token = undefined;
    const fresh = await this.currentToken(signal);
    return fresh.value !== used;
  }

  private async currentToken(signal?: AbortSignal): Promise<CachedToken> {
    if (this.token && this.now() < this.token.refreshAt) return this.token;
    if (!this.inflight) {
      const fetching = this.fetchWithCurrentSecret().finally(() => {
        if (this.inflight === fetching) this.inflight = undefined;
      });
      this.inflight = fetching;
    }
    // A waiting request that is cancelled stops waiting, without cancelling the shared refresh.
    return raceAbort(this.inflight, signal);
  }

  /**
   * A token fetched with the client secret as it is now; cached only if the secret did not change
   * meanwhile. A fetch refused while the secret changed is tried again with the new one.
   */
  private async fetchWithCurrentSecret(): Promise<CachedToken> {
    const generation = this.generation;
    try {
      const token = await this.fetchToken(this.clientSecret.current());
      if (generation === this.generation) this.token = token;
      return token;
    } catch (error) {
      if (generation !== this.generation) return this.fetchWithCurrentSecret();
      throw error;
    }
  }

  private async fetchToken(clientSecret: string): Promise<CachedToken> {
    const tracing = this.options.tracing;
    if (tracing === undefined) return this.requestToken(clientSecret, undefined);
    const url = new URL(this.options.tokenUrl);
    const parent = tracing.active();
    const span = tracing.tracer.startSpan(
      `POST ${url.pathname}`,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          [ATTR.httpMethod]: 'POST',
          [ATTR.urlTemplate]: url.pathname,
          [ATTR.serverAddress]: url.hostname,
          [ATTR.provider]: this.options.provider,
          [ATTR.route]: 'POST token',
        },
      },
      parent,
    );
    const headers: Record<string, string> = {};
    tracing.inject(trace.setSpan(parent, span), headers);
    try {
      const token = await this.requestToken(clientSecret, headers, span);
      span.setAttribute(ATTR.outcome, 'success');
      return token;
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      span.setAttributes({ [ATTR.outcome]: String(code), [ATTR.errorType]: String(code) });
      span.setStatus({ code: SpanStatusCode.ERROR, message: String(code) });
      throw error;
    } finally {
      span.end();
    }
  }

  /** One token request; `traceHeaders` (traceparent) and `span` when tracing is on. */
  private async requestToken(
    clientSecret: string,
    traceHeaders: Record<string, string> | undefined,
    span?: Span,
  ): Promise<CachedToken> {
    const { provider, tokenUrl, clientId, scope } = this.options;
    this.refreshes += 1;
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    if (scope) form.set('scope', scope);
    const basic = Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString(
      'base64',
    );
    let res: Dispatcher.ResponseData;
    try {
      res = await request(tokenUrl, {
        method: 'POST',
        headers: {
          ...traceHeaders,
          authorization: `Basic ${basic}`,
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body: form.toString(),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 5_000), // 5s
        ...(this.options.dispatcher ? { dispatcher: this.options.dispatcher } : {}),
      });
    } catch (cause) {
      throw new UpstreamUnavailableError(`${provider}: token endpoint unreachable`, { provider, cause });
    }
    const text = await res.body.text().catch(() => '');
    span?.setAttribute(ATTR.httpStatus, res.statusCode);
    if (res.statusCode === 401 || res.statusCode === 400 || res.statusCode === 403) {
      // Wrong client credentials: a configuration problem, not worth retrying.
      throw new UpstreamRejectedError(`${provider}: token endpoint refused the client credentials`, {
        provider,
        status: res.statusCode,
      });
    }
    if (res.statusCode === 429) {
      // The token endpoint throttles us: the API call it was for never left.
      throw new UpstreamRateLimitedError(`${provider}: token endpoint rate limited`, {
        provider,
        status: 429,
        retryAfterSeconds: retryAfterSecondsFrom(res.headers, this.now(), this.options.maxPauseMs ?? 60_000),
        rateLimitHeaders: pickRateLimitHeaders(res.headers),
        notSent: true,
      });
    }
    if (res.statusCode >= 300) {
      throw new UpstreamUnavailableError(`${provider}: token endpoint answered ${res.statusCode}`, {
        provider,
        status: res.statusCode,
      });
    }
    let parsed: z.infer<typeof tokenResponseSchema>;
    try {
      parsed = tokenResponseSchema.parse(JSON.parse(text));
    } catch (cause) {
      throw new UpstreamBadResponseError(`${provider}: token endpoint answered an unexpected shape`, {
        provider,
        status: res.statusCode,
        cause,
      });
    }
    const lifetimeMs = (parsed.expires_in ?? 3600) * 1000;
    const skewMs = Math.min((this.options.refreshSkewSeconds ?? 30) * 1000, lifetimeMs / 2);
    return { value: parsed.access_token, refreshAt: this.now() + lifetimeMs - skewMs };
  }
}

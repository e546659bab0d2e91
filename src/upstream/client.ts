// Provider-agnostic REST client on an undici Pool. Providers extend it and expose domain verbs;
// the HTTP verbs stay protected. Every upstream failure becomes a typed UpstreamError in exactly
// two methods here (errorFromResponse for answers, errorFromException for transport failures).
import { type Context, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Dispatcher } from 'undici';
import { errors as undiciErrors } from 'undici';
import type { ZodType } from 'zod';
import { deadlineSignal, isTimeoutReason } from './abort.js';
import type { AuthStrategy } from './auth.js';
import type { CallContext, UpstreamCallInfo } from './callContext.js';
import { upstreamDefaults } from './config.js';
import {
  isUpstreamError,
  RequestCancelledError,
  UpstreamBadResponseError,
  type UpstreamError,
  type UpstreamErrorDetails,
  UpstreamNotFoundError,
  UpstreamRateLimitedError,
  UpstreamRejectedError,
  UpstreamTimeoutError,
  UpstreamUnavailableError,
} from './errors.js';
import type { PoolRegistry } from './pools.js';

import { pickRateLimitHeaders, retryAfterSecondsFrom } from './rateLimitHeaders.js';
import { ATTR, type UpstreamTracing } from './tracing.js';

/** The configuration's defaults (upstream/config.ts): used when an option is not given. */
const DEFAULTS = upstreamDefaults();

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RequestSpec<T> {
  method: HttpMethod;
  /** Path under the base URL, ids already filled in, e.g. `/users/usr_0001`. */
  path: string;
  /** Route template for logs and metrics, e.g. `GET /users/:id`. Never contains ids. */
  route: string;
  query?: Record<string, string | number | boolean | undefined> | URLSearchParams | undefined;
  headers?: Record<string, string> | undefined;
  /** JSON body (sets content-type). */
  json?: unknown;
  /** Form body (sets content-type application/x-www-form-urlencoded). */
  form?: URLSearchParams | undefined;
  /**
   * Idempotency key for a non-idempotent call. Sent in the provider's header (`idempotencyHeader`)
   * and reused unchanged on every retry, which is what makes retrying a POST safe.
   */
  idempotencyKey?: string | undefined;
  /** Shape the 2xx body must have; anything else is UPSTREAM_BAD_RESPONSE. */
  schema: ZodType<T>;
  /** Treat an empty 2xx body as `undefined` instead of parsing JSON (e.g. SendGrid's 202). */
  allowEmptyBody?: boolean | undefined;
  /** Sent as If-None-Match; a 304 then resolves with `notModified: true`. */
  etag?: string | undefined;
  /**
   * Credentials for this call instead of the client's own: a connected user's token. Its
   * `credentialId` also picks the rate limiter when the pipeline limits per credential.
   */
  auth?: AuthStrategy | undefined;
}

export interface UpstreamResponse<T> {
  status: number;
  data: T;
  headers: Record<string, string | string[] | undefined>;
  /** True when the provider answered 304 to `etag`: `data` is undefined, reuse what you had. */
  notModified: boolean;
  upstreamRequestId: string | undefined;
}

/** Raw answer of one attempt, before it is judged. */
export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  upstreamRequestId: string | undefined;
}

/**
 * How one request is carried out across attempts. The default sends once; the resilience pipeline
 * (retries, breaker, rate limit, concurrency) is installed here by services.ts (createPipeline for each provider module).
 */
export interface RequestExecutor {
  execute<R>(
    request: ExecutorRequest,
    ctx: CallContext,
    attempt: (signal: AbortSignal, attemptNumber: number) => Promise<R>,
  ): Promise<R>;
}

/** What the executor knows of a request: enough to choose its policies, never its content. */
export interface ExecutorRequest {
  provider: string;
  route: string;
  method: HttpMethod;
  idempotent: boolean;
  /** Fingerprint of the credential the call is made with (AuthStrategy.credentialId). */
  credentialId?: string | undefined;
}

/** What cut an attempt short, if anything (errorFromException reads it). */
export type AttemptStop = { kind: 'none' } | { kind: 'timed-out' } | { kind: 'cancelled'; reason: unknown };

type AttemptResult<T> =
  | { kind: 'ok'; response: UpstreamResponse<T> }
  | { kind: 'failed'; raw: RawResponse; credential: string | undefined };

interface AttemptReport {
  info: UpstreamCallInfo;
  span: Span | undefined;
  /** Ends the attempt's report once: `error` when it failed, `cancelled` when the caller gave up. */
  done(error: UpstreamError | undefined, cancelled?: boolean): void;
}

export const sendOnce: RequestExecutor = {
  execute: (_request, ctx, attempt) => attempt(ctx.signal ?? new AbortController().signal, 1),
};

export interface RestClientOptions {
  /** Provider name used in errors, logs and metrics (`users`, `stripe`...). */
  provider: string;
  /** Base URL, e.g. `https://api.stripe.com`; paths are appended to it. */
  baseUrl: string;
  auth: AuthStrategy;
  pools: PoolRegistry;
  /** Limit for one attempt, in ms (UPSTREAM_TIMEOUT_MS by default). Trap: retries multiply it; the deadline caps the total. */
  attemptTimeoutMs?: number;
  /** Largest response body accepted, in bytes (UPSTREAM_MAX_RESPONSE_BYTES by default); larger is UPSTREAM_BAD_RESPONSE. */
  maxResponseBytes?: number;
  /** Header names, in order, where the provider puts its request id. Default request-id, x-request-id. */
  requestIdHeaders?: string[];
  /** Header carrying `RequestSpec.idempotencyKey`. Default `idempotency-key`. */
  idempotencyHeader?: string;
  /** Headers sent on every request (e.g. `Stripe-Version`). */
  defaultHeaders?: Record<string, string>;
  executor?: RequestExecutor;
  /** Called after each attempt, for logs and metrics. */
  onAttempt?: (info: UpstreamCallInfo, error: UpstreamError | undefined) => void;
  /**
   * Longest wait a provider's Retry-After or reset header can put into an error's `retryAfterSeconds`,
   * in ms (RATE_LIMIT_MAX_PAUSE_MS by default). Trap: it bounds what clients are told, not the limiter (see its own maxPauseMs).
   */
  maxPauseMs?: number;
  /**
   * Traces: one span per call (its retries, throttling and breaker refusals as events) with one
   * child span per attempt, whose `traceparent` the provider receives. Default undefined: no spans,
   * no trace headers.
   */
  tracing?: UpstreamTracing | undefined;
}

const IDEMPOTENT_METHODS = new Set<HttpMethod>(['GET', 'PUT', 'DELETE']);

export class RestClient {
  readonly provider: string;
  protected readonly baseUrl: URL;
  /** `baseUrl.origin`, read once: URL's getter rebuilds the string on every call (~2 % of an S1 operation). */
  private readonly origin: string;
  protected readonly auth: AuthStrategy;
  private readonly pool: Dispatcher;
  private readonly attemptTimeoutMs: number;
  private readonly maxResponseBytes: number;
  private readonly requestIdHeaders: string[];
  private readonly idempotencyHeader: string;
  private readonly defaultHeaders: Record<string, string>;
  private readonly onAttempt: RestClientOptions['onAttempt'];
  private readonly maxPauseMs: number;
  private readonly tracing: UpstreamTracing | undefined;
  protected executor: RequestExecutor;

  constructor(options: RestClientOptions) {
    this.provider = options.provider;
    this.baseUrl = new URL(options.baseUrl);
    this.origin = this.baseUrl.origin;
    this.auth = options.auth;
    this.pool = options.pools.get(this.baseUrl);
    this.attemptTimeoutMs = options.attemptTimeoutMs ?? DEFAULTS.attemptTimeoutMs;
    this.maxResponseBytes = options.maxResponseBytes ?? DEFAULTS.maxResponseBytes;
    this.requestIdHeaders = options.requestIdHeaders ?? ['request-id', 'x-request-id'];
    this.idempotencyHeader = options.idempotencyHeader ?? 'idempotency-key';
    this.defaultHeaders = options.defaultHeaders ?? {};
    this.executor = options.executor ?? sendOnce;
    this.onAttempt = options.onAttempt;
    this.maxPauseMs = options.maxPauseMs ?? DEFAULTS.rateLimitMaxPauseMs;
    this.tracing = options.tracing;
  }

  /** Credential fingerprint: part of every cache key, so credentials never share entries. */
  get credentialId(): string {
    return this.auth.credentialId;
  }

  /** Sends `spec` through the executor (policies) and returns the validated body. */
  protected async request<T>(spec: RequestSpec<T>, ctx: CallContext): Promise<T> {
    return (await this.send(spec, ctx)).data;
  }

  /** Like `request`, but with status, headers and the 304 flag. */
  protected async send<T>(spec: RequestSpec<T>, ctx: CallContext): Promise<UpstreamResponse<T>> {
    const idempotent = IDEMPOTENT_METHODS.has(spec.method) || spec.idempotencyKey !== undefined;
    const request: ExecutorRequest = {
      provider: this.provider,
      route: spec.route,
      method: spec.method,
      idempotent,
      credentialId: (spec.auth ?? this.auth).credentialId,
    };
    if (this.tracing !== undefined) return this.tracedSend(this.tracing, spec, ctx, request);
    return this.executor.execute(request, ctx, (signal, attemptNumber) =>
      this.attemptWithAuth(spec, ctx, signal, attemptNumber),
    );
  }

  /**
   * `send` with tracing on: the call's span (a child of the caller's, or of the active one for calls
   * made outside any operation) holds what the pipeline did; each attempt is a child span of it.
   */
  private async tracedSend<T>(
    tracing: UpstreamTracing,
    spec: RequestSpec<T>,
    ctx: CallContext,
    request: ExecutorRequest,
  ): Promise<UpstreamResponse<T>> {
    const parent = ctx.trace ?? tracing.active();
    const span = tracing.tracer.startSpan(
      `${this.provider} ${spec.route}`,
      {
        kind: SpanKind.INTERNAL,
        attributes: {
          [ATTR.provider]: this.provider,
          [ATTR.route]: spec.route,
          [ATTR.httpMethod]: spec.method,
          [ATTR.urlTemplate]: pathTemplate(spec.route),
          ...(ctx.cacheLoad === undefined ? {} : { [ATTR.cache]: ctx.cacheLoad }),
        },
      },
      parent,
    );
    const callTrace = trace.setSpan(parent, span);
    const callCtx: CallContext = { ...ctx, trace: callTrace };
    let attempts = 0;
    try {
      // Active while the pipeline runs: its log lines (retrying, failed attempts) carry the call's ids.
      const response = await tracing.with(callTrace, () =>
        this.executor.execute(request, callCtx, (signal, attemptNumber) => {
          attempts = attemptNumber;
          return this.attemptWithAuth(spec, callCtx, signal, attemptNumber);
        }),
      );
      span.setAttributes({ [ATTR.outcome]: 'success', [ATTR.httpStatus]: response.status });
      return response;
    } catch (error) {
      endFailed(span, error);
      throw error;
    } finally {
      span.setAttribute(ATTR.attempts, attempts);
      span.end();
    }
  }

  /** Hook: change a request just before it is sent (headers are already authorized). */
  protected willSendRequest(_spec: RequestSpec<unknown>, _headers: Record<string, string>): void {}

  /**
   * Turns a non-2xx answer into a typed error. Providers override it to read their error bodies
   * (Stripe's `{error:{type,code}}`, Twilio's `{code,message}`) and call `super` for the rest.
   */
  protected errorFromResponse(res: RawResponse, _spec: RequestSpec<unknown>): UpstreamError {
    const details = this.responseDetails(res);
    const where = `${this.provider} answered ${res.status}`;
    if (res.status === 404) return new UpstreamNotFoundError(`${where}: not found`, details);
    if (res.status === 408) return new UpstreamTimeoutError(`${where}: request timeout`, details);
    if (res.status === 429) return new UpstreamRateLimitedError(`${where}: rate limited`, details);
    if (res.status === 409) return new UpstreamRejectedError(`${where}: conflict`, details);
    if (res.status >= 500) return new UpstreamUnavailableError(`${where}: server error`, details);
    return new UpstreamRejectedError(`${where}: request rejected`, details);
  }

  /**
   * What every error made from an answer carries: provider, status, request id, the wait the
   * provider asked for (bounded by maxPauseMs) and the rate-limit headers the limiter reads.
   */
  protected responseDetails(res: RawResponse): UpstreamErrorDetails {
    return {
      provider: this.provider,
      status: res.status,
      upstreamRequestId: res.upstreamRequestId,
      retryAfterSeconds: retryAfterSecondsFrom(res.headers, Date.now(), this.maxPauseMs),
      rateLimitHeaders: pickRateLimitHeaders(res.headers),
      // The provider's own word on retrying (see retrySignal) wins over the kind of failure.
      providerSaysRetry: this.retrySignal(res),
    };
  }

  /**
   * Hook: the provider's own word on whether this failed answer may be retried (e.g. Stripe's
   * `Stripe-Should-Retry`), or undefined to decide by status. When defined it wins, whatever the
   * status or body.
   */
  protected retrySignal(_res: RawResponse): boolean | undefined {
    return undefined;
  }

  /**
   * Turns a transport failure (refused, reset, timeout, cancelled) into a typed error. `stop` says
   * what cut the attempt short, if anything: its own timeout, or the caller's signal (whose reason
   * tells the operation's deadline from a client that went away).
   */
  protected errorFromException(error: unknown, stop: AttemptStop): Error {
    if (isUpstreamError(error)) return error;
    if (stop.kind === 'cancelled' && isTimeoutReason(stop.reason)) {
      // The operation's deadline, not the client, cut the call: that is a timeout to report.
      return new UpstreamTimeoutError(`${this.provider}: the operation's deadline passed during the call`, {
        provider: this.provider,
        cause: error,
      });
    }
    if (stop.kind === 'cancelled') return new RequestCancelledError(error);
    const provider = this.provider;
    if (
      stop.kind === 'timed-out' ||
      error instanceof undiciErrors.HeadersTimeoutError ||
      error instanceof undiciErrors.BodyTimeoutError
    ) {
      return new UpstreamTimeoutError(`${provider} did not answer in time`, { provider, cause: error });
    }
    if (error instanceof undiciErrors.ConnectTimeoutError) {
      return new UpstreamTimeoutError(`${provider}: connect timeout`, {
        provider,
        cause: error,
        notSent: true,
      });
    }
    const code = (error as { code?: unknown }).code;
    const neverSent =
      code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EHOSTUNREACH';
    return new UpstreamUnavailableError(
      `${provider} is unreachable (${typeof code === 'string' ? code : 'network error'})`,
      { provider, cause: error, notSent: neverSent },
    );
  }

  private async attemptWithAuth<T>(
    spec: RequestSpec<T>,
    ctx: CallContext,
    signal: AbortSignal,
    attemptNumber: number,
  ): Promise<UpstreamResponse<T>> {
    const first = await this.attempt(spec, ctx, signal, attemptNumber);
    if (first.kind === 'ok') return first.response;
    // A 401 may mean our token expired early: refresh once and retry once with the fresh one.
    const auth = spec.auth ?? this.auth;
    if (first.raw.status === 401 && (await auth.refreshAfterUnauthorized(first.credential, signal))) {
      const second = await this.attempt(spec, ctx, signal, attemptNumber);
      if (second.kind === 'ok') return second.response;
      throw this.errorFromResponse(second.raw, spec as RequestSpec<unknown>);
    }
    throw this.errorFromResponse(first.raw, spec as RequestSpec<unknown>);
  }

  /**
   * One attempt: check the deadline, build the request, exchange it on the pool under the attempt's
   * own timeout, then judge the answer. Each attempt is reported once (metrics, logs, its span).
   */
  private async attempt<T>(
    spec: RequestSpec<T>,
    ctx: CallContext,
    signal: AbortSignal,
    attemptNumber: number,
  ): Promise<AttemptResult<T>> {
    const startedAtMs = Date.now();
    const report = this.attemptReporter(spec, ctx, attemptNumber, startedAtMs);
    const remainingMs = ctx.deadline === undefined ? Infinity : ctx.deadline - startedAtMs;
    if (remainingMs <= 0) {
      const error = new UpstreamTimeoutError(
        `${this.provider}: the operation's deadline passed before the call`,
        {
          provider: this.provider,
          notSent: true,
        },
      );
      report.done(error);
      throw error;
    }
    const { headers, body } = this.requestParts(spec, ctx);
    if (this.tracing !== undefined && ctx.trace !== undefined)
      report.span = this.startAttemptSpan(this.tracing, spec, ctx.trace, attemptNumber, headers);
    let exchanged: { raw: RawResponse; credential: string | undefined };
    try {
      exchanged = await this.exchange(
        spec,
        headers,
        body,
        signal,
        Math.min(this.attemptTimeoutMs, remainingMs),
        report,
      );
    } catch (error) {
      report.done(isUpstreamError(error) ? error : undefined, !isUpstreamError(error));
      throw error;
    }
    return this.judge(spec, exchanged.raw, exchanged.credential, report);
  }

  /** Headers (defaults, spec's, idempotency key, ETag, request id) and the encoded body of `spec`. */
  private requestParts(
    spec: RequestSpec<unknown>,
    ctx: CallContext,
  ): { headers: Record<string, string>; body: string | undefined } {
    const headers: Record<string, string> = {
      accept: 'application/json',
      ...this.defaultHeaders,
      ...spec.headers,
    };
    let body: string | undefined;
    if (spec.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(spec.json);
    } else if (spec.form !== undefined) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = spec.form.toString();
    }
    if (spec.idempotencyKey !== undefined) headers[this.idempotencyHeader] = spec.idempotencyKey;
    if (spec.etag !== undefined) headers['if-none-match'] = spec.etag;
    if (ctx.requestId !== undefined) headers['x-request-id'] = ctx.requestId;
    return { headers, body };
  }

  /**
   * Authorizes and sends the request, and reads the whole body, under the attempt's own timeout
   * (a cleared timer, released as soon as the attempt ends) and the caller's signal. Every
   * transport failure leaves as a typed error (errorFromException).
   */
  private async exchange(
    spec: RequestSpec<unknown>,
    headers: Record<string, string>,
    body: string | undefined,
    signal: AbortSignal,
    timeoutMs: number,
    report: AttemptReport,
  ): Promise<{ raw: RawResponse; credential: string | undefined }> {
    const attemptTimer = deadlineSignal(Math.max(1, Math.ceil(timeoutMs)));
    const timeout = attemptTimer.signal;
    const combined = AbortSignal.any([signal, timeout]);
    try {
      const credential = await (spec.auth ?? this.auth).authorize(headers, combined);
      this.willSendRequest(spec, headers);
      const res = await this.pool.request({
        origin: this.origin,
        path: this.pathWithQuery(spec),
        method: spec.method,
        headers,
        body,
        signal: combined,
      });
      report.info.status = res.statusCode;
      const upstreamRequestId = this.upstreamRequestIdFrom(res.headers);
      report.info.upstreamRequestId = upstreamRequestId;
      let text: string;
      try {
        text = await this.readBody(res, combined);
      } catch (cause) {
        if (signal.aborted || timeout.aborted || isUpstreamError(cause)) throw cause;
        // The answer started but broke off (truncated body, reset mid-body): we cannot trust it.
        throw new UpstreamBadResponseError(`${this.provider} sent an incomplete response body`, {
          provider: this.provider,
          status: res.statusCode,
          upstreamRequestId,
          incomplete: true,
          cause,
        });
      }
      return {
        raw: { status: res.statusCode, headers: res.headers, body: text, upstreamRequestId },
        credential,
      };
    } catch (error) {
      const stop: AttemptStop = signal.aborted
        ? { kind: 'cancelled', reason: signal.reason }
        : timeout.aborted
          ? { kind: 'timed-out' }
          : { kind: 'none' };
      throw this.errorFromException(error, stop);
    } finally {
      attemptTimer.cancel();
    }
  }

  /** Judges an answer: a 304 for our ETag, a 2xx body of the expected shape, or a typed error. */
  private judge<T>(
    spec: RequestSpec<T>,
    raw: RawResponse,
    credential: string | undefined,
    report: AttemptReport,
  ): AttemptResult<T> {
    const response = (data: T, notModified: boolean): AttemptResult<T> => ({
      kind: 'ok',
      response: {
        status: raw.status,
        data,
        headers: raw.headers,
        notModified,
        upstreamRequestId: raw.upstreamRequestId,
      },
    });
    if (raw.status === 304 && spec.etag !== undefined) {
      report.done(undefined);
      return response(undefined as T, true);
    }
    if (raw.status < 200 || raw.status >= 300) {
      const error = this.errorFromResponse(raw, spec as RequestSpec<unknown>);
      report.done(error);
      // A 401 goes back to attemptWithAuth, which may refresh the credential and try once more.
      if (raw.status === 401) return { kind: 'failed', raw, credential };
      throw error;
    }
    let data: T;
    try {
      data = this.parseBody(raw, spec);
    } catch (error) {
      const mapped = isUpstreamError(error)
        ? error
        : new UpstreamBadResponseError(`${this.provider} answered an unexpected shape`, {
            provider: this.provider,
            status: raw.status,
            upstreamRequestId: raw.upstreamRequestId,
            cause: error,
          });
      report.done(mapped);
      throw mapped;
    }
    report.done(undefined);
    return response(data, false);
  }

  /** What one attempt reports when it ends: its call info (metrics, health, logs) and its span. */
  private attemptReporter(
    spec: RequestSpec<unknown>,
    ctx: CallContext,
    attemptNumber: number,
    startedAtMs: number,
  ): AttemptReport {
    const info: UpstreamCallInfo = {
      provider: this.provider,
      route: spec.route,
      status: undefined,
      attempt: attemptNumber,
      durationMs: 0,
      startedAtMs,
      outcome: 'success',
      requestId: ctx.requestId,
    };
    const report: AttemptReport = {
      info,
      span: undefined,
      done: (error, cancelled = false) => {
        info.durationMs = Date.now() - startedAtMs;
        info.outcome = cancelled ? 'cancelled' : error ? 'error' : 'success';
        info.errorCode = error?.code;
        if (report.span !== undefined) endAttemptSpan(report.span, info);
        ctx.onCall?.(info);
        this.onAttempt?.(info, error);
      },
    };
    return report;
  }

  /** One attempt's span (HTTP client semantics), its context sent to the provider in `headers`. */
  private startAttemptSpan(
    tracing: UpstreamTracing,
    spec: RequestSpec<unknown>,
    parent: Context,
    attemptNumber: number,
    headers: Record<string, string>,
  ): Span {
    const span = tracing.tracer.startSpan(
      spec.route,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          [ATTR.httpMethod]: spec.method,
          [ATTR.urlTemplate]: pathTemplate(spec.route),
          [ATTR.serverAddress]: this.baseUrl.hostname,
          [ATTR.serverPort]: serverPort(this.baseUrl),
          [ATTR.provider]: this.provider,
          [ATTR.route]: spec.route,
          [ATTR.attempt]: attemptNumber,
          ...(attemptNumber > 1 ? { [ATTR.resendCount]: attemptNumber - 1 } : {}),
        },
      },
      parent,
    );
    tracing.inject(trace.setSpan(parent, span), headers);
    return span;
  }

  /** Hook: parse and validate a 2xx body. The default parses JSON and checks `spec.schema`. */
  protected parseBody<T>(raw: RawResponse, spec: RequestSpec<T>): T {
    if (raw.body.length === 0 && spec.allowEmptyBody) return spec.schema.parse(undefined);
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw.body);
    } catch (cause) {
      throw new UpstreamBadResponseError(`${this.provider} answered a body that is not JSON`, {
        provider: this.provider,
        status: raw.status,
        upstreamRequestId: raw.upstreamRequestId,
        cause,
      });
    }
    const result = spec.schema.safeParse(parsed);
    if (!result.success) {
      const first = result.error.issues[0];
      const where = first ? `${first.path.join('.') || '(root)'}: ${first.message}` : 'unknown';
      throw new UpstreamBadResponseError(`${this.provider} answered an unexpected shape at ${where}`, {
        provider: this.provider,
        status: raw.status,
        upstreamRequestId: raw.upstreamRequestId,
        cause: result.error,
      });
    }
    return result.data;
  }

  private pathWithQuery(spec: RequestSpec<unknown>): string {
    const base = this.baseUrl.pathname.replace(/\/$/, '');
    let query = '';
    if (spec.query instanceof URLSearchParams) {
      query = spec.query.toString();
    } else if (spec.query) {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(spec.query)) if (v !== undefined) params.set(k, String(v));
      query = params.toString();
    }
    return `${base}${spec.path}${query ? `?${query}` : ''}`;
  }

  private upstreamRequestIdFrom(headers: Record<string, string | string[] | undefined>): string | undefined {
    for (const name of this.requestIdHeaders) {
      const value = headers[name];
      if (typeof value === 'string' && value.length > 0) return value.slice(0, 128);
    }
    return undefined;
  }

  private async readBody(res: Dispatcher.ResponseData, signal: AbortSignal): Promise<string> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body) {
      if (signal.aborted) throw signal.reason;
      const buf = chunk as Buffer;
      size += buf.length;
      if (size > this.maxResponseBytes) {
        res.body.destroy();
        throw new UpstreamBadResponseError(
          `${this.provider} answered more than ${this.maxResponseBytes} bytes`,
          {
            provider: this.provider,
            status: res.statusCode,
          },
        );
      }
      chunks.push(buf);
    }
    return Buffer.concat(chunks).toString('utf8');
  }
}

/** The path part of a route template (`GET /users/:id` -> `/users/:id`), for `url.template`. */
function pathTemplate(route: string): string {
  const space = route.indexOf(' ');
  return space === -1 ? route : route.slice(space + 1);
}

function serverPort(url: URL): number {
  if (url.port !== '') return Number(url.port);
  return url.protocol === 'https:' ? 443 : 80;
}

/** Ends an attempt's span with what the attempt came to (status, outcome, error code). */
function endAttemptSpan(span: Span, info: UpstreamCallInfo): void {
  const outcome = info.outcome === 'error' ? (info.errorCode ?? 'error') : info.outcome;
  span.setAttribute(ATTR.outcome, outcome);
  if (info.status !== undefined) span.setAttribute(ATTR.httpStatus, info.status);
  if (info.upstreamRequestId !== undefined) span.setAttribute(ATTR.upstreamRequestId, info.upstreamRequestId);
  if (info.outcome === 'error') {
    span.setAttribute(
      ATTR.errorType,
      info.status !== undefined && info.status >= 400 ? String(info.status) : outcome,
    );
    span.setStatus({ code: SpanStatusCode.ERROR, message: outcome });
  }
  span.end();
}

/** Marks a call's span failed with the error's code (never its message: it may name ids). */
function endFailed(span: Span, error: unknown): void {
  const code = isUpstreamError(error)
    ? error.code
    : error instanceof RequestCancelledError
      ? 'cancelled'
      : 'error';
  span.setAttribute(ATTR.outcome, code);
  if (isUpstreamError(error) && error.status !== undefined) span.setAttribute(ATTR.httpStatus, error.status);
  if (code !== 'cancelled') {
    span.setAttribute(ATTR.errorType, code);
    span.setStatus({ code: SpanStatusCode.ERROR, message: code });
  }
}

// The provider module contract. A provider is one folder under src/providers/<name>/ (plus its
// simulator under src/simulators/<name>/) exporting one `ProviderModule`; the registry
// (registry.ts) lists the modules, and configuration, service construction, demo mode, the GraphQL
// context, webhook intake, health and the test harness iterate it. No other file names a provider.
import type { Logger } from 'pino';
import type { OAuthProviderSpec, UserCredentialSource } from '../accounts/provider.js';
import type { Fields, Values } from '../configSchema.js';
import type { ResponseCache } from '../upstream/cache.js';
import type { CallContext, UpstreamCallInfo } from '../upstream/callContext.js';
import type { UpstreamError } from '../upstream/errors.js';
import type { Pipeline } from '../upstream/policies/pipeline.js';
import type { PoolRegistry } from '../upstream/pools.js';
import type { UpstreamTracing } from '../upstream/tracing.js';

/**
 * A provider's configuration, written once. `remote` holds what points Junction at the real
 * service (URLs without a default, keys): when any of it is set, all of it is required (an error
 * names each missing variable); when none is, the provider runs as its embedded simulator outside
 * production, and is a startup error in production. `settings` have defaults and apply in both
 * modes (the simulator may override some, e.g. the API base).
 */
export interface ProviderConfigSpec<C extends Fields, S extends Fields> {
  /** Heading of the provider's rows in the README's configuration table. */
  readonly title: string;
  readonly remote: C;
  readonly settings: S;
  /**
   * Checks across variables, once both groups are read (e.g. a variable required in production,
   * or required with another). Returns one problem line per failure, naming the variables.
   */
  check?(read: { mode: ProviderMode; settings: Values<S> }, ctx: ConfigCheckContext): string[];
}

export interface ConfigCheckContext {
  isProduction: boolean;
  /** PUBLIC_BASE_URL: where providers reach this Junction (callbacks and their signatures). */
  publicBaseUrl: string | undefined;
}

export type ProviderMode = 'remote' | 'simulator';

/** Remote variables once accepted: each one present (config refuses a partial set). */
export type RemoteValues<C extends Fields> = { [K in keyof C]: NonNullable<Values<C>[K]> };

/** A provider's configuration as read: its mode, its settings, and its remote variables when remote. */
export type ProviderConfig<C extends Fields = Fields, S extends Fields = Fields> =
  | { mode: 'remote'; remote: RemoteValues<C>; settings: Values<S> }
  | { mode: 'simulator'; settings: Values<S> };

/**
 * Where a provider actually is once Junction starts: the remote variables and settings from the
 * environment (remote), or the ones of the simulator demo mode started (simulator).
 */
export interface ProviderEndpoint<C extends Fields = Fields, S extends Fields = Fields> {
  mode: ProviderMode;
  remote: RemoteValues<C>;
  settings: Values<S>;
}

/** The shared machinery a module builds its client from (process-wide, built once). */
export interface ClientDeps {
  pools: PoolRegistry;
  cache: ResponseCache;
  /** The provider's resilience pipeline (retry, breaker, rate limit, concurrency). */
  executor: Pipeline;
  /** Options every RestClient takes, from the `upstream` config section. */
  common: {
    pools: PoolRegistry;
    attemptTimeoutMs: number;
    maxResponseBytes: number;
    maxPauseMs: number;
    onAttempt: (info: UpstreamCallInfo, error: UpstreamError | undefined) => void;
    /** Traces of upstream calls; undefined when tracing is off. */
    tracing?: UpstreamTracing | undefined;
  };
  /** RATE_LIMIT_MAX_PAUSE_MS: the longest pause any provider header may impose, in ms. */
  maxPauseMs: number;
  /** Where this Junction is reached by providers (callbacks); undefined until known in demo mode. */
  publicBaseUrl(): string | undefined;
  logger: Logger;
  /** Traces of upstream calls (the OAuth token request is one); undefined when tracing is off. */
  tracing?: UpstreamTracing | undefined;
  /**
   * Connected users' credentials, for a module whose calls are made on behalf of a user
   * (`connectedAccounts`): its client asks here for the user's current token on every call.
   */
  accounts: UserCredentialSource;
}

/** How the module's calls go through the shared resilience pipeline. */
export interface PipelinePolicy {
  /** Requests per second the provider allows per credential (the limiter keeps under it). */
  ratePerSecond: number;
  /**
   * `credential`: the provider limits each credential on its own (a connected user's token), so
   * each gets its own adaptive bucket, fed by the answers to that credential. Default `provider`.
   */
  rateLimitScope?: 'provider' | 'credential';
  /** Separate circuit breakers by route (e.g. writes apart from reads). Default: one per provider. */
  breakerGroup?(route: string): string;
}

/** One raw webhook delivery, as received: verification needs the exact bytes. */
export interface WebhookDelivery {
  rawBody: Buffer;
  header(name: string): string | undefined;
  /** Path and query as received (`/webhooks/<name>?...`). */
  url: string;
  requestId: string;
  log: Logger | import('fastify').FastifyBaseLogger;
}

/** What verification may read besides the delivery. */
export interface VerifyContext {
  /** Clock for signature timestamps, in epoch ms. */
  now(): number;
  /** Where this Junction is reached (what Twilio signs); undefined when unknown. */
  publicBaseUrl(): string | undefined;
}

/** What intake gives a module's webhook handler once the delivery is verified. */
export interface WebhookContext<Client> {
  client: Client;
  /** Runs `effect` once per event id (across replays and, with Redis, replicas). */
  once(eventId: string, effect: () => Promise<void>): Promise<{ duplicate: boolean }>;
  /** Pushes `value` to `topic`'s subscribers on every replica; sent before the delivery is answered. */
  publish(topic: string, value: unknown): void;
  /** False only when no subscriber of `topic` can exist anywhere (with Redis up: never), so building the value can be skipped. */
  mayHaveSubscribers(topic: string): boolean;
  /** An authentic event Junction cannot use: counted and logged once, never its payload. */
  unusable(reason: string, count?: number): void;
  /** A duplicate delivery, for metrics. */
  duplicate(): void;
}

/** The answer intake sends (2xx after the effects ran; a thrown error answers 5xx). */
export interface WebhookAnswer {
  status: number;
  body?: unknown;
}

export interface ProviderWebhooks<C extends Fields, S extends Fields, Client, Verified = void> {
  /**
   * Checks the delivery's signature with the secrets in `endpoint`, throwing
   * WebhookVerificationError (`not_configured` when it holds none); returns what `handle` reads.
   */
  verify(delivery: WebhookDelivery, endpoint: ProviderEndpoint<C, S>, ctx: VerifyContext): Verified;
  /** Acts on each event of a verified delivery once, then says what to answer. */
  handle(verified: Verified, delivery: WebhookDelivery, ctx: WebhookContext<Client>): Promise<WebhookAnswer>;
}

/** What a module's OAuth spec is built from, once its client exists. */
export interface OAuthSpecContext<Client> {
  client: Client;
  /** Junction's callback for this provider, absolute (`<public base URL>/oauth/<name>/callback`); read when a flow begins. */
  redirectUri(): string;
}

/**
 * A provider whose calls are made on behalf of connected users (OAuth 2.0 authorization code with
 * PKCE, accounts/): the registry hands its spec to connected accounts, and its client gets each
 * user's token through `ClientDeps.accounts`.
 */
export interface ConnectedAccountSupport<C extends Fields, S extends Fields, Client> {
  oauthSpec(endpoint: ProviderEndpoint<C, S>, ctx: OAuthSpecContext<Client>): OAuthProviderSpec;
  /**
   * The names the GraphQL contract gives this provider's account: the `User` field and its object
   * type. Resolvers key on these, so no resolver file names the provider.
   */
  readonly graphql: { readonly userField: string; readonly accountType: string };
}

export interface ProviderModule<
  Name extends string = string,
  Capability extends string = string,
  C extends Fields = Fields,
  S extends Fields = Fields,
  Client = unknown,
  Loaders extends object = object,
> {
  /** Provider name in logs, metrics, errors and routes (`/webhooks/<name>`). */
  readonly name: Name;
  /**
   * The domain it serves, which is how the GraphQL layer reaches it (`ctx.services.<capability>`)
   * without naming the provider: `directory`, `billing`, `sms`, `email`...
   */
  readonly capability: Capability;
  readonly config: ProviderConfigSpec<C, S>;
  /** Rate and breaker grouping, from the provider's settings. */
  policy(settings: Values<S>): PipelinePolicy;
  createClient(endpoint: ProviderEndpoint<C, S>, deps: ClientDeps): Client;
  /** Per-operation DataLoaders the domain resolvers use (`ctx.loaders.<key>`). */
  createLoaders?(client: Client, call: CallContext): Loaders;
  /** Methods are bivariant, so a module's own verified-delivery type fits `unknown` here. */
  readonly webhooks?: ProviderWebhooks<C, S, Client, unknown>;
  /** Present when the module's calls are made on behalf of connected users. */
  readonly connectedAccounts?: ConnectedAccountSupport<C, S, Client>;
}

/** Any module, whatever its types (methods are bivariant in their parameters, so every module fits). */
export type AnyProviderModule = ProviderModule<string, string, Fields, Fields, unknown, object>;

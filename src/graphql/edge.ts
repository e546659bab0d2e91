// The edge: the one ordered list of rules every GraphQL operation passes, over HTTP and over the
// WebSocket alike, and its adapter for Apollo Server. Both transports run operations through
// Apollo's request pipeline (the WebSocket through `executeOperation`, see subscriptions.ts), so a
// rule added to this list holds on both; admission runs where both build an operation's context.
//
// Stages, in the order an operation meets them:
//   admission   before the document is read: per-client limits (context.ts calls `admit`)
//   parse       graphql-js's parser options (the token limit)
//   validation  document rules run with graphql-js's specified rules (no variables yet)
//   operation   once the operation, its variables and its cost are known (cost, allowlist, budget)
//   errors      each client-facing error, after Junction's error contract is applied
import type { ApolloServerPlugin } from '@apollo/server';
import { HeaderMap } from '@apollo/server';
import type { KeyValueCache } from '@apollo/utils.keyvaluecache';
import {
  type DocumentNode,
  type FragmentDefinitionNode,
  GraphQLError,
  type GraphQLFormattedError,
  type GraphQLSchema,
  Kind,
  NoSchemaIntrospectionCustomRule,
  type OperationDefinitionNode,
  type ParseOptions,
  type ValidationRule,
} from 'graphql';
import { type Allowlist, AllowlistCache, notAllowlistedError } from './allowlist.js';
import type { GraphQLContext, OperationTransport } from './context.js';
import type { ClientRateLimiter } from './edgeRateLimit.js';
import { createFormatError, type FormatError, rateLimited } from './errors.js';
import { armorRules, costLimitError, type EdgeLimits, operationCost } from './limits.js';

export type EdgeRuleName =
  | 'maxTokens'
  | 'maxDepth'
  | 'maxAliases'
  | 'maxDirectives'
  | 'introspection'
  | 'suggestions'
  | 'maxCost'
  | 'allowlist'
  | 'clientRateLimit';

/** Who is asking, as far as the admission stage knows: `viewer:<id>` or `address:<ip>`. */
export interface EdgeClient {
  key: string;
  transport: OperationTransport['kind'];
}

/** What the operation stage sees: the resolved operation, its variables and its cost. */
export interface EdgeOperation {
  document: DocumentNode;
  operation: OperationDefinitionNode;
  variables: Record<string, unknown>;
  /** sha256 of the query text (what persisted queries and the allowlist are keyed by). */
  queryHash: string;
  /** operationCost(), counted up to just past the cost limit. */
  cost: number;
  context: GraphQLContext;
}

/** One rule: a name, what it guards, and its hook in each stage it takes part in. */
export interface EdgeRule {
  readonly name: EdgeRuleName;
  /** One line for people: what the rule refuses or hides. */
  readonly summary: string;
  /** Whether the configuration turned it on (a rule that is off is still listed, and does nothing). */
  readonly enabled: boolean;
  /** Admission: throw a GraphQLError to refuse; return the rate-limit points charged. */
  admit?(client: EdgeClient): Promise<number>;
  readonly parseOptions?: ParseOptions;
  readonly validationRules?: readonly ValidationRule[];
  /** Operation stage: throw a GraphQLError (with `extensions.http`) to refuse. */
  checkOperation?(operation: EdgeOperation): Promise<void> | void;
  /** Errors stage: rewrite one client-facing error. */
  formatError?(error: GraphQLFormattedError): GraphQLFormattedError;
}

export interface EdgeOptions {
  schema: GraphQLSchema;
  limits: EdgeLimits;
  /** Introspection queries allowed? (Off in production.) */
  introspection: boolean;
  /** Hide "Did you mean …?" suggestions, which spell out the schema? (On in production.) */
  hideSuggestions: boolean;
  /** Mask unexpected errors' messages? (On in production.) */
  maskUnexpected: boolean;
  /** Allowlist mode: only these operations (by sha256) run. Undefined: any operation. */
  allowlist: Allowlist | undefined;
  /** The per-client budget; undefined: no per-client limit. */
  rateLimiter: ClientRateLimiter | undefined;
  /** Told of every refusal made by the budget (for metrics). */
  onRateLimited?: (transport: OperationTransport['kind']) => void;
  /**
   * Where automatic persisted queries are kept (state.apqCache: in Redis with REDIS_URL, so a hash
   * registered on one replica runs by hash on every other). Default: Apollo's in-process cache.
   * Unused in allowlist mode (the manifest is the store).
   */
  apqCache?: KeyValueCache<string> | undefined;
}

export interface Edge {
  /** The rules, in the order they run within each stage. */
  readonly rules: readonly EdgeRule[];
  /** The admission stage: refuses (throws) or returns the points charged. context.ts runs it. */
  admit(client: EdgeClient): Promise<number>;
  /** Junction's error contract followed by every rule's error stage: for Apollo and for the WebSocket. */
  readonly formatError: FormatError;
  /** How Apollo Server runs the list (both transports go through it). */
  readonly apollo: {
    parseOptions: ParseOptions;
    validationRules: ValidationRule[];
    plugins: ApolloServerPlugin<GraphQLContext>[];
    formatError: FormatError;
    /** Automatic persisted queries; in allowlist mode the store is the manifest, read-only. */
    persistedQueries: { cache?: KeyValueCache<string> };
    /** The list owns introspection: Apollo's own switch stays on so the rule is the only one. */
    introspection: true;
  };
}

export function createEdge(options: EdgeOptions): Edge {
  const { limits, rateLimiter, allowlist } = options;
  const armor = armorRules(limits);
  const rules: EdgeRule[] = [
    {
      name: 'maxTokens',
      summary: `documents of more than ${limits.maxTokens} lexical tokens are not parsed`,
      enabled: true,
      parseOptions: { maxTokens: limits.maxTokens },
    },
    {
      name: 'maxDepth',
      summary: `selections nested deeper than ${limits.maxDepth}`,
      enabled: true,
      validationRules: [armor.maxDepth],
    },
    {
      name: 'maxAliases',
      summary: `more than ${limits.maxAliases} aliases`,
      enabled: true,
      validationRules: [armor.maxAliases],
    },
    {
      name: 'maxDirectives',
      summary: `more than ${limits.maxDirectives} directives`,
      enabled: true,
      validationRules: [armor.maxDirectives],
    },
    {
      name: 'introspection',
      summary: '__schema and __type, when introspection is off',
      enabled: !options.introspection,
      validationRules: options.introspection ? [] : [NoSchemaIntrospectionCustomRule],
    },
    {
      name: 'suggestions',
      summary: '"Did you mean …?" in any error message, when schema details are hidden',
      enabled: options.hideSuggestions,
      ...(options.hideSuggestions ? { formatError: withoutSuggestions } : {}),
    },
    {
      name: 'maxCost',
      summary: `operations costing more than ${limits.maxCost} (connections count \`first\` times their contents)`,
      enabled: true,
      checkOperation: ({ cost }) => {
        if (cost > limits.maxCost) throw costLimitError(cost, limits.maxCost);
      },
    },
    {
      name: 'allowlist',
      summary: 'operations not in the persisted query manifest, in allowlist mode',
      enabled: allowlist !== undefined,
      ...(allowlist
        ? {
            checkOperation: ({ queryHash }: EdgeOperation) => {
              if (!allowlist.has(queryHash)) throw notAllowlistedError();
            },
          }
        : {}),
    },
    clientRateLimitRule(rateLimiter, options.onRateLimited),
  ];

  const baseFormat = createFormatError({ maskUnexpected: options.maskUnexpected });
  const formatters = rules.flatMap((rule) => (rule.formatError ? [rule.formatError] : []));
  const formatError: FormatError = (formatted, error) =>
    formatters.reduce((current, format) => format(current), baseFormat(formatted, error));

  const admit = async (client: EdgeClient): Promise<number> => {
    let charged = 0;
    for (const rule of rules) if (rule.admit) charged += await rule.admit(client);
    return charged;
  };

  return {
    rules,
    admit,
    formatError,
    apollo: {
      parseOptions: Object.assign({}, ...rules.map((rule) => rule.parseOptions ?? {})),
      validationRules: rules.flatMap((rule) => rule.validationRules ?? []),
      plugins: [edgePlugin(options.schema, rules, limits.maxCost)],
      formatError,
      persistedQueries: allowlist
        ? { cache: new AllowlistCache(allowlist) }
        : options.apqCache
          ? { cache: options.apqCache }
          : {},
      introspection: true,
    },
  };
}

/**
 * The budget: admission takes 1 request (the least any operation counts for) before the document
 * is read, so a flood of junk is refused cheaply; once the cost is known, the rest of the
 * operation's weight. Beyond: RATE_LIMITED, over HTTP a 429 with Retry-After.
 */
function clientRateLimitRule(
  limiter: ClientRateLimiter | undefined,
  onRateLimited: EdgeOptions['onRateLimited'],
): EdgeRule {
  const summary =
    'clients over their per-minute budget (viewer, else address; expensive operations count more)';
  if (!limiter) return { name: 'clientRateLimit', summary, enabled: false };
  const refuse = (retryAfterSeconds: number, transport: OperationTransport['kind']) => {
    onRateLimited?.(transport);
    return rateLimited(
      `Too many requests: this client's budget of ${limiter.perMinute} requests a minute is spent (expensive operations count for more); retry after ${retryAfterSeconds} s`,
      { limit: 'clientRateLimit', retryAfterSeconds },
    );
  };
  return {
    name: 'clientRateLimit',
    summary,
    enabled: true,
    async admit(client) {
      const refusal = await limiter.take(client.key, 1);
      if (refusal) throw refuse(refusal.retryAfterSeconds, client.transport);
      return 1;
    },
    async checkOperation({ cost, context }) {
      const weight = limiter.weight(cost);
      const prepaid = Math.min(weight, context.admission.prepaidPoints);
      context.admission.prepaidPoints -= prepaid;
      const refusal = await limiter.take(context.clientKey, weight - prepaid);
      if (refusal) throw refuse(refusal.retryAfterSeconds, context.transport.kind);
    },
  };
}

const SUGGESTION = / ?Did you mean(.+?)\?$/;

/** graphql-js appends suggestions (field, argument, type and enum value names) to the end of messages. */
function withoutSuggestions(error: GraphQLFormattedError): GraphQLFormattedError {
  return SUGGESTION.test(error.message)
    ? { ...error, message: error.message.replace(SUGGESTION, '') }
    : error;
}

/**
 * Apollo's side of the list: the operation stage once the operation is resolved (Apollo turns a
 * throw there into a 4xx from the error's `extensions.http`), subscriptions refused over HTTP, and
 * on the WebSocket a subscription that passed every rule handed back to the adapter unexecuted.
 */
function edgePlugin(
  schema: GraphQLSchema,
  rules: readonly EdgeRule[],
  maxCost: number,
): ApolloServerPlugin<GraphQLContext> {
  const checks = rules.flatMap((rule) => (rule.checkOperation ? [rule.checkOperation.bind(rule)] : []));
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ document, operation, request, queryHash, contextValue }) {
          if (!operation) return;
          if (operation.operation === 'subscription' && contextValue.transport.kind !== 'ws') {
            throw new GraphQLError(
              'Subscriptions are served over the WebSocket (graphql-ws protocol) at this same URL',
              { extensions: { code: 'BAD_REQUEST', http: { status: 400 } } },
            );
          }
          const fragments = new Map<string, FragmentDefinitionNode>();
          for (const definition of document.definitions) {
            if (definition.kind === Kind.FRAGMENT_DEFINITION)
              fragments.set(definition.name.value, definition);
          }
          const variables = request.variables ?? {};
          const cost = operationCost(schema, operation, fragments, variables, maxCost);
          const facts: EdgeOperation = {
            document,
            operation,
            variables,
            queryHash,
            cost,
            context: contextValue,
          };
          for (const check of checks) await check(facts);
        },
        async responseForOperation({ operation, document, operationName, contextValue }) {
          if (operation.operation !== 'subscription' || contextValue.transport.kind !== 'ws') return null;
          contextValue.transport.subscription = { document, operationName };
          return {
            http: { status: undefined, headers: new HeaderMap() },
            body: { kind: 'single', singleResult: {} },
          };
        },
      };
    },
  };
}

// Edge limits for hostile queries, checked before any resolver (so before any upstream call):
// depth, aliases, directives and tokens through graphql-armor, plus a cost limit of our own that
// multiplies by connections' `first` (armor's cost model knows nothing of paging). Every refusal is
// a 400 with code GRAPHQL_VALIDATION_FAILED (or GRAPHQL_PARSE_FAILED for tokens) and
// `extensions.limit` naming the limit.
import type { ApolloServerPlugin } from '@apollo/server';
import { ApolloArmor } from '@escape.tech/graphql-armor';
import {
  type FieldNode,
  type FragmentDefinitionNode,
  GraphQLError,
  type GraphQLField,
  type GraphQLSchema,
  getNamedType,
  isInterfaceType,
  isObjectType,
  Kind,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValidationRule,
  valueFromAST,
} from 'graphql';

export interface EdgeLimits {
  /** Deepest selection nesting. Default 12. */
  maxDepth: number;
  /** Aliases per operation. Default 100 (fetching 100 users by alias in one query is legitimate). */
  maxAliases: number;
  /** Directives per operation. Default 50. */
  maxDirectives: number;
  /** Lexical tokens per document. Default 5000. */
  maxTokens: number;
  /** Cost: 1 per field, children multiplied by a connection's `first`. Default 10000. */
  maxCost: number;
}

export const defaultEdgeLimits: EdgeLimits = {
  maxDepth: 12,
  maxAliases: 100,
  maxDirectives: 50,
  maxTokens: 5000,
  maxCost: 10_000,
};

/** armor's messages, by limit: how a rejection is given its `extensions.limit` name. */
const ARMOR_MESSAGES: Array<[RegExp, string]> = [
  [/depth limit/i, 'maxDepth'],
  [/aliases limit/i, 'maxAliases'],
  [/directives limit/i, 'maxDirectives'],
];

/** graphql-js's parser refusal when a document has more than parseOptions.maxTokens tokens. */
// graphql-js 16 spells it "more that": match both, in case a release fixes the typo.
export const TOKEN_LIMIT_MESSAGE = /Document contains more tha[nt] \d+ tokens/;

/**
 * Wraps an armor rule so each error it reports names its limit. armor builds its own error after
 * its onReject hooks run, so the name is added where the error is reported.
 */
function namingLimits(rule: ValidationRule): ValidationRule {
  return (context) => {
    const reportError = (error: GraphQLError) => {
      const limit = ARMOR_MESSAGES.find(([pattern]) => pattern.test(error.message))?.[1];
      context.reportError(
        limit
          ? new GraphQLError(error.message, {
              nodes: error.nodes,
              extensions: { ...error.extensions, limit },
            })
          : error,
      );
    };
    const proxy = new Proxy(context, {
      get(target, property) {
        if (property === 'reportError') return reportError;
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    return rule(proxy);
  };
}

export function createEdgeProtection(
  schema: GraphQLSchema,
  limits: EdgeLimits,
): { plugins: ApolloServerPlugin[]; validationRules: ValidationRule[] } {
  const armor = new ApolloArmor({
    maxDepth: { n: limits.maxDepth, flattenFragments: true },
    maxAliases: { n: limits.maxAliases },
    maxDirectives: { n: limits.maxDirectives },
    // Tokens are limited by graphql-js's own parser (Apollo's parseOptions.maxTokens), below.
    maxTokens: { enabled: false },
    // Replaced by the connection-aware cost plugin below.
    costLimit: { enabled: false },
    // Field suggestions are hidden in production by Apollo's hideSchemaDetailsFromClientErrors.
    blockFieldSuggestion: { enabled: false },
  });
  const { plugins, validationRules } = armor.protect();
  // armor is typed against Apollo's CommonJS build and we load the ESM one; the objects are plain
  // hook maps, identical at run time.
  const armorPlugins = plugins as unknown as ApolloServerPlugin[];
  return {
    plugins: [...armorPlugins, costLimitPlugin(schema, limits.maxCost)],
    validationRules: validationRules.map(namingLimits),
  };
}

/** Runs once the operation and its variables are known (validation rules never see variables). */
function costLimitPlugin(schema: GraphQLSchema, maxCost: number): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ document, operation, request }) {
          if (!operation) return;
          const fragments = new Map<string, FragmentDefinitionNode>();
          for (const def of document.definitions) {
            if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
          }
          const cost = operationCost(schema, operation, fragments, request.variables ?? {}, maxCost);
          if (cost > maxCost) {
            throw new GraphQLError(
              `Query cost ${cost} exceeds the limit of ${maxCost} (connections count \`first\` times their contents)`,
              {
                extensions: {
                  code: 'GRAPHQL_VALIDATION_FAILED',
                  limit: 'maxCost',
                  max: maxCost,
                  cost,
                  http: { status: 400 },
                },
              },
            );
          }
        },
      };
    },
  };
}

/** Cost of an operation; stops counting past `ceiling` so a hostile query cannot make this slow. */
export function operationCost(
  schema: GraphQLSchema,
  operation: OperationDefinitionNode,
  fragments: Map<string, FragmentDefinitionNode>,
  variables: Record<string, unknown>,
  ceiling = Number.POSITIVE_INFINITY,
): number {
  const root =
    operation.operation === 'query'
      ? schema.getQueryType()
      : operation.operation === 'mutation'
        ? schema.getMutationType()
        : schema.getSubscriptionType();
  if (!root) return 0;

  const selectionCost = (set: SelectionSetNode, typeName: string, seen: Set<string>): number => {
    const type = schema.getType(typeName);
    let total = 0;
    for (const selection of set.selections) {
      if (total > ceiling) return total;
      if (selection.kind === Kind.FIELD) {
        total += fieldCost(
          selection,
          type && (isObjectType(type) || isInterfaceType(type))
            ? type.getFields()[selection.name.value]
            : undefined,
          seen,
        );
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        total += selectionCost(selection.selectionSet, selection.typeCondition?.name.value ?? typeName, seen);
      } else {
        const fragment = fragments.get(selection.name.value);
        if (fragment && !seen.has(fragment.name.value)) {
          const next = new Set(seen).add(fragment.name.value);
          total += selectionCost(fragment.selectionSet, fragment.typeCondition.name.value, next);
        }
      }
    }
    return total;
  };

  const fieldCost = (
    node: FieldNode,
    field: GraphQLField<unknown, unknown> | undefined,
    seen: Set<string>,
  ): number => {
    if (!node.selectionSet || !field) return 1;
    const childType = getNamedType(field.type).name;
    const children = selectionCost(node.selectionSet, childType, seen);
    return 1 + multiplier(node, field, variables) * children;
  };

  return selectionCost(operation.selectionSet, root.name, new Set());
}

/** A connection field (one with a `first` argument) fetches `first` items: its contents count that often. */
function multiplier(
  node: FieldNode,
  field: GraphQLField<unknown, unknown>,
  variables: Record<string, unknown>,
): number {
  const firstArg = field.args.find((a) => a.name === 'first');
  if (!firstArg) return 1;
  const given = node.arguments?.find((a) => a.name.value === 'first');
  const value = given ? valueFromAST(given.value, firstArg.type, variables) : firstArg.defaultValue;
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : 1;
}

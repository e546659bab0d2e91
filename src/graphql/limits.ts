// Hostile-query limits, checked before any resolver (so before any upstream call): depth, aliases
// and directives through graphql-armor (each refusal named in `extensions.limit`), and the cost of
// an operation, our own model: armor's knows nothing of paging, variables or federation references.
// The edge (edge.ts) decides where each runs; this module only says what they count.
import { ApolloArmor } from '@escape.tech/graphql-armor';
import {
  type FieldNode,
  type FragmentDefinitionNode,
  GraphQLError,
  type GraphQLField,
  type GraphQLSchema,
  getNamedType,
  getVariableValues,
  isAbstractType,
  isInterfaceType,
  isObjectType,
  Kind,
  type OperationDefinitionNode,
  type SelectionSetNode,
  typeFromAST,
  type ValidationRule,
  valueFromAST,
} from 'graphql';

export interface EdgeLimits {
  /** Deepest selection nesting (GRAPHQL_MAX_DEPTH). */
  maxDepth: number;
  /** Aliases per operation (GRAPHQL_MAX_ALIASES). */
  maxAliases: number;
  /** Directives per operation (GRAPHQL_MAX_DIRECTIVES). */
  maxDirectives: number;
  /** Lexical tokens per document (GRAPHQL_MAX_TOKENS). */
  maxTokens: number;
  /** Cost: 1 per field, children multiplied by a connection's `first` (GRAPHQL_MAX_COST). */
  maxCost: number;
}

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

/** armor's document rules, one per limit, each naming its limit when it refuses. */
export function armorRules(limits: Pick<EdgeLimits, 'maxDepth' | 'maxAliases' | 'maxDirectives'>): {
  maxDepth: ValidationRule;
  maxAliases: ValidationRule;
  maxDirectives: ValidationRule;
} {
  const only = (limit: 'maxDepth' | 'maxAliases' | 'maxDirectives'): ValidationRule => {
    const armor = new ApolloArmor({
      maxDepth: { enabled: limit === 'maxDepth', n: limits.maxDepth, flattenFragments: true },
      maxAliases: { enabled: limit === 'maxAliases', n: limits.maxAliases },
      maxDirectives: { enabled: limit === 'maxDirectives', n: limits.maxDirectives },
      // Tokens: graphql-js's own parser (parseOptions.maxTokens). Cost: operationCost below.
      maxTokens: { enabled: false },
      costLimit: { enabled: false },
      // Suggestions are hidden by the edge's own rule, for every error, not only validation ones.
      blockFieldSuggestion: { enabled: false },
    });
    const [rule, ...rest] = armor.protect().validationRules;
    if (!rule || rest.length > 0) throw new Error(`graphql-armor: expected exactly one rule for ${limit}`);
    return namingLimits(rule);
  };
  return { maxDepth: only('maxDepth'), maxAliases: only('maxAliases'), maxDirectives: only('maxDirectives') };
}

/** The refusal of an operation whose cost is over the limit. */
export function costLimitError(cost: number, maxCost: number): GraphQLError {
  return new GraphQLError(
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

/** The federation field that resolves references: it costs its selection once per representation. */
const ENTITIES_FIELD = '_entities';

/**
 * Cost of an operation: 1 per field; a connection's (a field with a `first` argument) contents
 * count `first` times; `_entities` counts the selection that applies to each representation's
 * type once per representation. Variables count as sent, and as their declared defaults when not
 * sent. Stops counting past `ceiling` so a hostile query cannot make this slow.
 */
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
  const values = effectiveVariables(schema, operation, variables);

  /** Does a fragment on `condition` apply to an object of type `typeName`? Abstract parents: all do. */
  const applies = (condition: string | undefined, typeName: string): boolean => {
    if (condition === undefined || condition === typeName) return true;
    const parent = schema.getType(typeName);
    const conditionType = schema.getType(condition);
    if (!parent || !conditionType || !isObjectType(parent)) return true;
    return isAbstractType(conditionType) && schema.isSubType(conditionType, parent);
  };

  const selectionCost = (set: SelectionSetNode, typeName: string, seen: Set<string>): number => {
    const type = schema.getType(typeName);
    let total = 0;
    for (const selection of set.selections) {
      if (total > ceiling) return total;
      if (selection.kind === Kind.FIELD) {
        const field =
          type && (isObjectType(type) || isInterfaceType(type))
            ? type.getFields()[selection.name.value]
            : undefined;
        total +=
          type === root && selection.name.value === ENTITIES_FIELD && field
            ? entitiesCost(selection, field, seen)
            : fieldCost(selection, field, seen);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const condition = selection.typeCondition?.name.value;
        if (applies(condition, typeName))
          total += selectionCost(selection.selectionSet, condition ?? typeName, seen);
      } else {
        const fragment = fragments.get(selection.name.value);
        if (fragment && !seen.has(fragment.name.value)) {
          const condition = fragment.typeCondition.name.value;
          if (!applies(condition, typeName)) continue;
          const next = new Set(seen).add(fragment.name.value);
          // A fragment on an abstract type read under a concrete one: count it for the concrete type.
          const asType = isAbstractType(schema.getType(condition)) ? typeName : condition;
          total += selectionCost(fragment.selectionSet, asType, next);
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
    return 1 + multiplier(node, field, values) * children;
  };

  /** Each representation costs the selection that applies to its `__typename`. */
  const entitiesCost = (
    node: FieldNode,
    field: GraphQLField<unknown, unknown>,
    seen: Set<string>,
  ): number => {
    if (!node.selectionSet) return 1;
    const arg = field.args.find((a) => a.name === 'representations');
    const given = node.arguments?.find((a) => a.name.value === 'representations');
    const representations = arg && given ? valueFromAST(given.value, arg.type, values) : undefined;
    if (!Array.isArray(representations)) return fieldCost(node, field, seen);
    const byType = new Map<string, number>();
    const unionName = getNamedType(field.type).name;
    for (const representation of representations) {
      const typename =
        typeof representation === 'object' &&
        representation !== null &&
        typeof (representation as { __typename?: unknown }).__typename === 'string'
          ? (representation as { __typename: string }).__typename
          : undefined;
      // An unknown type counts as the whole selection (every fragment), the most it could cost.
      const known = typename !== undefined && isObjectType(schema.getType(typename));
      const key = known ? (typename as string) : unionName;
      byType.set(key, (byType.get(key) ?? 0) + 1);
    }
    let total = 1;
    for (const [typeName, count] of byType) {
      total += count * selectionCost(node.selectionSet, typeName, seen);
      if (total > ceiling) return total;
    }
    return total;
  };

  return selectionCost(operation.selectionSet, root.name, new Set());
}

/**
 * The variables an operation runs with: coerced as graphql-js will coerce them, with declared
 * defaults for those not sent. When they do not coerce (the operation will fail anyway), the raw
 * values plus defaults, so the cost is still counted.
 */
function effectiveVariables(
  schema: GraphQLSchema,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown>,
): Record<string, unknown> {
  const definitions = operation.variableDefinitions ?? [];
  if (definitions.length === 0) return variables;
  const coerced = getVariableValues(schema, definitions, variables, { maxErrors: 1 });
  if (coerced.coerced) return coerced.coerced;
  const values: Record<string, unknown> = { ...variables };
  for (const definition of definitions) {
    const name = definition.variable.name.value;
    if (values[name] !== undefined || !definition.defaultValue) continue;
    const type = typeFromAST(schema, definition.type);
    if (type)
      values[name] = valueFromAST(definition.defaultValue, type as Parameters<typeof valueFromAST>[1]);
  }
  return values;
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
  const value = given ? valueFromAST(given.value, firstArg.type, variables) : undefined;
  // Not given, a variable not sent, or null: the resolver pages by the argument's default.
  const first = value === undefined || value === null ? firstArg.defaultValue : value;
  return typeof first === 'number' && Number.isFinite(first) && first > 0 ? first : 1;
}

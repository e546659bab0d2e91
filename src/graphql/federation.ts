// The federation root fields, made safe for a subgraph anyone can reach: `_entities` checks,
// authorizes and resolves each representation on its own (one refusal nulls only its own item),
// and `_service` (the subgraph SDL) is kept for the router and admins in production.
import { createHash, timingSafeEqual } from 'node:crypto';
import { entitiesResolver } from '@apollo/subgraph';
import {
  type ConstDirectiveNode,
  type FieldNode,
  type GraphQLFieldResolver,
  type GraphQLObjectType,
  type GraphQLSchema,
  getNamedType,
  isUnionType,
  Kind,
  type OperationDefinitionNode,
  parse,
} from 'graphql';
import type { GraphQLContext } from './context.js';
import { badUserInput, forbidden, unauthenticated, userError } from './errors.js';

/** ROUTER_SECRET bounds, in characters; a presented header longer than the maximum is refused unread. */
export const ROUTER_SECRET_MIN_LENGTH = 32;
export const ROUTER_SECRET_MAX_LENGTH = 512;

/** The header a router sends `ROUTER_SECRET` in (Apollo Router, Hive Gateway: see README). */
export const ROUTER_SECRET_HEADER = 'x-router-secret';

/** Longest text key value (an id) a representation may carry, in characters; ids are far shorter. */
export const MAX_KEY_VALUE_LENGTH = 256;

/** One answer for an unknown type, a type that is no entity, and an entity that does not exist. */
export const NO_SUCH_ENTITY_MESSAGE = 'No entity matches this representation';

const KEY_DIRECTIVES = new Set(['key', 'federation__key']);

export interface FederationGuardOptions {
  /** `_service` answers only admins and requests carrying the router secret (production). */
  restrictServiceSdl: boolean;
}

/**
 * Replaces the resolvers @apollo/subgraph put on `Query._entities` and `Query._service` with
 * guarded ones. Mutates and returns `schema`; call it once, right after building the schema.
 */
export function guardFederationFields(schema: GraphQLSchema, options: FederationGuardOptions): GraphQLSchema {
  const fields = schema.getQueryType()?.getFields();
  const entities = fields?._entities;
  if (entities) entities.resolve = resolveEntitiesOneByOne(entityKeysOf(schema));
  const service = fields?._service;
  if (service && options.restrictServiceSdl) {
    const resolveSdl = service.resolve;
    service.resolve = (source, args, ctx: GraphQLContext, info) => {
      requireRouterOrAdmin(ctx);
      return resolveSdl ? resolveSdl(source, args, ctx, info) : source;
    };
  }
  return schema;
}

/**
 * `ROUTER_SECRET` check for a presented header value: constant time (both sides hashed to one
 * length first), false when no secret is configured, the header is repeated or it is too long.
 */
export function createRouterSecretCheck(
  secret: string | undefined,
): (presented: string | string[] | undefined) => boolean {
  if (secret === undefined || secret === '') return () => false;
  const expected = digest(secret);
  return (presented) =>
    typeof presented === 'string' &&
    presented.length <= ROUTER_SECRET_MAX_LENGTH &&
    timingSafeEqual(digest(presented), expected);
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

function requireRouterOrAdmin(ctx: GraphQLContext): void {
  if (ctx.routerAuthenticated) return;
  const message = 'The subgraph schema is only for the router and admins';
  if (!ctx.viewer) throw unauthenticated(message);
  if (!ctx.viewer.isAdmin) throw forbidden(message);
}

/** One top-level field of an entity's `@key`. */
interface KeyField {
  name: string;
  /** The field has a selection in the key (`@key(fields: "owner { id }")`): its value is an object. */
  nested: boolean;
  /** ID or String: its value must be a string of 1..MAX_KEY_VALUE_LENGTH characters. */
  text: boolean;
}

/** Each entity type's keys (a representation must carry one of them in full), by type name. */
type EntityKeys = ReadonlyMap<string, readonly (readonly KeyField[])[]>;

function entityKeysOf(schema: GraphQLSchema): EntityKeys {
  const keys = new Map<string, KeyField[][]>();
  const union = schema.getType('_Entity');
  if (!isUnionType(union)) return keys;
  for (const type of union.getTypes()) {
    const directives = [type.astNode, ...type.extensionASTNodes].flatMap((node) => node?.directives ?? []);
    keys.set(
      type.name,
      directives.flatMap((directive) => {
        const key = keyFieldsOf(type, directive);
        return key ? [key] : [];
      }),
    );
  }
  return keys;
}

function keyFieldsOf(type: GraphQLObjectType, directive: ConstDirectiveNode): KeyField[] | undefined {
  if (!KEY_DIRECTIVES.has(directive.name.value)) return undefined;
  const fields = directive.arguments?.find((argument) => argument.name.value === 'fields')?.value;
  if (fields?.kind !== Kind.STRING) return undefined;
  const operation = parse(`{ ${fields.value} }`).definitions[0] as OperationDefinitionNode;
  return operation.selectionSet.selections
    .filter((selection): selection is FieldNode => selection.kind === Kind.FIELD)
    .map((selection) => {
      const named = getNamedType(type.getFields()[selection.name.value]?.type);
      return {
        name: selection.name.value,
        nested: selection.selectionSet !== undefined,
        text: named?.name === 'ID' || named?.name === 'String',
      };
    });
}

/**
 * Why a representation cannot be resolved, or undefined when it can. A type that does not exist
 * and one that exists but is no entity get the same NOT_FOUND, so type names cannot be probed.
 */
function representationProblem(representation: unknown, keys: EntityKeys): Error | undefined {
  if (typeof representation !== 'object' || representation === null || Array.isArray(representation))
    return badUserInput('A representation is an object with "__typename" and key fields', 'representations');
  const fields = representation as Record<string, unknown>;
  const typeKeys = typeof fields.__typename === 'string' ? keys.get(fields.__typename) : undefined;
  if (!typeKeys) return userError('NOT_FOUND', NO_SUCH_ENTITY_MESSAGE);
  if (!typeKeys.some((key) => key.every((field) => keyValueFits(field, fields[field.name]))))
    return badUserInput(
      `A representation needs the entity's key fields; text keys are 1..${MAX_KEY_VALUE_LENGTH} characters`,
      'representations',
    );
  return undefined;
}

function keyValueFits(field: KeyField, value: unknown): boolean {
  if (field.nested) return typeof value === 'object' && value !== null && !Array.isArray(value);
  if (field.text)
    return typeof value === 'string' && value.length > 0 && value.length <= MAX_KEY_VALUE_LENGTH;
  return value !== null && value !== undefined && typeof value !== 'object';
}

/**
 * `_entities` with one outcome per representation: each is checked, then resolved through its
 * type's `__resolveReference` on its own promise, and a refusal, a failure or a missing entity
 * becomes an Error in its own slot (graphql-js reports it at `["_entities", i]` and nulls only
 * that item). Every reference is still started in the same tick, so DataLoader batches them.
 */
function resolveEntitiesOneByOne(keys: EntityKeys): GraphQLFieldResolver<unknown, GraphQLContext> {
  return (_source, args, context, info) => {
    const representations: unknown[] = Array.isArray(args.representations) ? args.representations : [];
    return representations.map((representation) => {
      const problem = representationProblem(representation, keys);
      if (problem) return problem;
      let result: unknown;
      try {
        [result] = entitiesResolver({ representations: [representation], context, info });
      } catch (error) {
        return asError(error);
      }
      return Promise.resolve(result).then(
        (entity: unknown) => entity ?? userError('NOT_FOUND', NO_SUCH_ENTITY_MESSAGE),
        asError,
      );
    });
  };
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

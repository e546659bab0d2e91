// Assembles the executable subgraph schema from schema/*.graphql and the domain resolvers.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { buildSubgraphSchema, type GraphQLResolverMap } from '@apollo/subgraph';
import { GraphQLScalarType, type GraphQLSchema, parse } from 'graphql';
import type { Resolvers } from '../generated/graphql.js';
import { type FederationGuardOptions, guardFederationFields } from './federation.js';
import { accountsResolvers } from './resolvers/accounts.js';
import { billingResolvers } from './resolvers/billing.js';
import { codeHostingResolvers } from './resolvers/codeHosting.js';
import { messagingResolvers } from './resolvers/messaging.js';
import { usersResolvers } from './resolvers/users.js';
import { DateTimeScalar } from './scalars.js';

/** schema/: copied beside the compiled code in dist/ (dist/schema), at the repository root from src/. */
export const SCHEMA_DIR = existsSync(new URL('../schema/', import.meta.url))
  ? new URL('../schema/', import.meta.url)
  : new URL('../../schema/', import.meta.url);

/** The SDL of every schema/*.graphql file, in name order. */
export function loadTypeDefs(dir: URL = SCHEMA_DIR): string {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.graphql'))
    .sort()
    .map((f) => readFileSync(new URL(f, dir), 'utf8'))
    .join('\n');
}

/** Builds the subgraph schema; `_entities` and `_service` are guarded (see federation.ts). */
export function buildSchema(options: FederationGuardOptions): GraphQLSchema {
  const resolvers: Resolvers[] = [
    { DateTime: DateTimeScalar, Query: { _junction: () => true } },
    usersResolvers,
    billingResolvers,
    messagingResolvers,
    accountsResolvers,
    codeHostingResolvers,
  ];
  const schema = buildSubgraphSchema([
    {
      typeDefs: parse(loadTypeDefs()),
      resolvers: mergeResolvers(resolvers) as GraphQLResolverMap<unknown>,
    },
  ]);
  return guardFederationFields(schema, options);
}

/** Shallow-merges per-domain resolver maps type by type. */
function mergeResolvers(maps: Resolvers[]): Record<string, unknown> {
  const merged: Record<string, unknown> = {};
  for (const map of maps) {
    for (const [type, fields] of Object.entries(map)) {
      const existing = merged[type];
      const isPlainMap = (v: unknown) =>
        typeof v === 'object' && v !== null && !(v instanceof GraphQLScalarType);
      merged[type] =
        isPlainMap(existing) && isPlainMap(fields)
          ? { ...(existing as object), ...(fields as object) }
          : fields;
    }
  }
  return merged;
}

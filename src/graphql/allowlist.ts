// Allowlist mode: only operations registered in a persisted-query manifest run. Clients may send
// the full text (it must hash to a registered id) or only the sha256 hash (APQ protocol), which is
// resolved from the manifest; nothing can be registered at run time.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ApolloServerPlugin } from '@apollo/server';
import type { KeyValueCache } from '@apollo/utils.keyvaluecache';
import { GraphQLError } from 'graphql';
import { z } from 'zod';

/** Apollo's persisted query manifest format (what `generate-persisted-query-manifest` writes). */
const manifestSchema = z.object({
  format: z.literal('apollo-persisted-query-manifest'),
  version: z.literal(1),
  operations: z.array(
    z.object({
      id: z.string().regex(/^[0-9a-f]{64}$/),
      body: z.string().min(1),
      name: z.string().optional(),
    }),
  ),
});

export type Allowlist = ReadonlyMap<string, string>;

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Reads and checks a manifest: every id must be the sha256 of its body. */
export function loadAllowlist(
  path: string,
  read: (p: string) => string = (p) => readFileSync(p, 'utf8'),
): Allowlist {
  const manifest = manifestSchema.parse(JSON.parse(read(path)));
  const allowed = new Map<string, string>();
  for (const op of manifest.operations) {
    if (sha256(op.body) !== op.id)
      throw new Error(
        `allowlist ${path}: operation ${op.name ?? op.id} has an id that is not the sha256 of its body`,
      );
    allowed.set(op.id, op.body);
  }
  return allowed;
}

/** The APQ store in allowlist mode: answers from the manifest, refuses registrations. */
export class AllowlistCache implements KeyValueCache<string> {
  constructor(private readonly allowed: Allowlist) {}
  async get(key: string): Promise<string | undefined> {
    return this.allowed.get(key.startsWith('apq:') ? key.slice(4) : key);
  }
  async set(): Promise<void> {}
  async delete(): Promise<boolean> {
    return false;
  }
}

export function allowlistPlugin(allowed: Allowlist): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        // Checked once the operation is resolved: Apollo turns errors from this hook into a 400.
        async didResolveOperation({ queryHash }) {
          if (!allowed.has(queryHash)) {
            throw new GraphQLError(
              'This server runs only registered operations (allowlist mode); this operation is not registered',
              {
                extensions: {
                  code: 'BAD_REQUEST',
                  reason: 'OPERATION_NOT_ALLOWLISTED',
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

// Allowlist mode: only operations registered in a persisted-query manifest run. Clients may send
// the full text (it must hash to a registered id) or only the sha256 hash (APQ protocol), which is
// resolved from the manifest; nothing can be registered at run time.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { KeyValueCache } from '@apollo/utils.keyvaluecache';
import { GraphQLError } from 'graphql';
import { z } from 'zod';

/** Apollo's persisted query manifest format (what `generate-persisted-query-manifest` writes). */
const manifestSchema = z.object({
  format: z.literal('apollo-persisted-query-manifest'),
  version: z.literal(1),
  operations: z.array(
    z.object({
      id: z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex characters (a sha256)'),
      body: z.string().min(1),
      name: z.string().optional(),
    }),
  ),
});

export type Allowlist = ReadonlyMap<string, string>;

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** A manifest that cannot be used: the message names the variable, the file and the first problem. */
export class AllowlistError extends Error {
  readonly code = 'ALLOWLIST_INVALID';
  constructor(
    readonly path: string,
    readonly problem: string,
    options?: { cause?: unknown },
  ) {
    super(`GRAPHQL_ALLOWLIST (${path}): ${problem}`, options);
    this.name = 'AllowlistError';
  }
}

export function isAllowlistError(error: unknown): error is AllowlistError {
  return error instanceof AllowlistError;
}

/** Reads and checks a manifest: every id must be the sha256 of its body. Throws AllowlistError. */
export function loadAllowlist(
  path: string,
  read: (p: string) => string = (p) => readFileSync(p, 'utf8'),
): Allowlist {
  let text: string;
  try {
    text = read(path);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new AllowlistError(path, `cannot read the file (${reason})`, { cause: error });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new AllowlistError(path, `not JSON (${(error as Error).message})`, { cause: error });
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    const [issue] = parsed.error.issues;
    const where = issue?.path.length
      ? issue.path
          .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
          .join('')
          .replace(/^\./, '')
      : 'the manifest';
    throw new AllowlistError(
      path,
      `${where}: ${issue?.message ?? 'not a persisted query manifest'} (expected Apollo's apollo-persisted-query-manifest, version 1)`,
    );
  }
  const allowed = new Map<string, string>();
  for (const [index, op] of parsed.data.operations.entries()) {
    if (sha256(op.body) !== op.id)
      throw new AllowlistError(
        path,
        `operations[${index}] (${op.name ?? op.id}): its id is not the sha256 of its body`,
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

/** The refusal of an operation that is not in the manifest. */
export function notAllowlistedError(): GraphQLError {
  return new GraphQLError(
    'This server runs only registered operations (allowlist mode); this operation is not registered',
    { extensions: { code: 'BAD_REQUEST', reason: 'OPERATION_NOT_ALLOWLISTED', http: { status: 400 } } },
  );
}

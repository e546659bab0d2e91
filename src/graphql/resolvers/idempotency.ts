// Client idempotency keys: the format every mutation accepts, and the run-once wrapper of the
// mutations whose result Junction keeps (sendSms, sendEmail). The first request with a key sends and
// its payload is kept for 24 h (state.idempotency: in Redis with REDIS_URL, so on every replica); a
// repeat gets that payload and sends nothing; a repeat arriving while the first still runs waits for
// its result; the same key with another input is BAD_USER_INPUT. A failed send keeps nothing: the
// client may retry with the same key.
import { createHash } from 'node:crypto';
import type { GraphQLContext } from '../context.js';
import { badUserInput, rateLimited } from '../errors.js';

/** What a client's key may be (createPayment, sendSms, sendEmail). */
export const IDEMPOTENCY_KEY = /^[A-Za-z0-9._:-]{1,200}$/;

/** Throws BAD_USER_INPUT when `key` is given and not a valid key. */
export function checkIdempotencyKey(key: string | null | undefined): void {
  if (key != null && !IDEMPOTENCY_KEY.test(key)) {
    throw badUserInput('"idempotencyKey" must be 1..200 characters of A-Z a-z 0-9 . _ : -', 'idempotencyKey');
  }
}

/** A fixed-length fingerprint of a mutation's input (its fields in the given order, nulls included). */
export function inputFingerprint(input: Record<string, unknown>): string {
  return createHash('sha256').update(JSON.stringify(input)).digest('base64url');
}

/**
 * Runs `send` once per (mutation, viewer, key): with no key, just runs it. `input` is what the key
 * is bound to (every field that changes what is sent).
 */
export async function runIdempotent<R>(
  ctx: GraphQLContext,
  request: {
    mutation: string;
    viewerId: string;
    key: string | null | undefined;
    input: Record<string, unknown>;
  },
  send: () => Promise<R>,
): Promise<R> {
  const { key } = request;
  if (key == null) return send();
  checkIdempotencyKey(key);
  const scope = `${request.mutation}:viewer:${request.viewerId}`;
  const fingerprint = inputFingerprint(request.input);
  const outcome = await ctx.idempotency.beginOrWait(scope, key, fingerprint, { signal: ctx.signal });
  switch (outcome.kind) {
    case 'done':
      return outcome.result as R;
    case 'mismatch':
      throw badUserInput(
        `"idempotencyKey" was already used with a different input for ${request.mutation}: use a new key`,
        'idempotencyKey',
      );
    case 'in_progress':
      // The first request with this key is still running after the whole wait: try again shortly.
      throw rateLimited(
        `A ${request.mutation} request with this idempotencyKey is still in progress; retry after 1 s`,
        { limit: 'idempotencyKey', retryAfterSeconds: 1 },
      );
    case 'new':
      break;
  }
  let result: R;
  try {
    result = await send();
  } catch (error) {
    await ctx.idempotency.abandon(scope, key);
    throw error;
  }
  const kept = await ctx.idempotency.complete(scope, key, result);
  if (!kept)
    ctx.logger.warn({ mutation: request.mutation }, 'idempotent result not kept: a repeat will send again');
  return result;
}

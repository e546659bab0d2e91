// The one place where failures become the client-facing error contract (DESIGN.md): upstream
// errors get their code and safe details, errors we raise on purpose pass through, and anything
// unexpected is masked in production.
import { unwrapResolverError } from '@apollo/server/errors';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { isUpstreamError, type UpstreamError } from '../upstream/errors.js';
import { InvalidCursorError } from '../upstream/pagination.js';
import { TOKEN_LIMIT_MESSAGE } from './limits.js';
import { InvalidTokenError } from './viewer.js';

export type ErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'BAD_USER_INPUT'
  | 'NOT_FOUND'
  | 'UPSTREAM_TIMEOUT'
  | 'UPSTREAM_UNAVAILABLE'
  | 'UPSTREAM_RATE_LIMITED'
  | 'UPSTREAM_CIRCUIT_OPEN'
  | 'UPSTREAM_BAD_RESPONSE'
  | 'UPSTREAM_REJECTED'
  | 'PAYMENT_DECLINED'
  | 'INTERNAL_SERVER_ERROR';

/** Codes Junction or Apollo raise on purpose: their messages are safe to show as they are. */
const DELIBERATE_CODES = new Set<string>([
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'BAD_USER_INPUT',
  'NOT_FOUND',
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_REQUEST',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
]);

export const MASKED_MESSAGE = 'Internal server error';

export function userError(
  code: ErrorCode,
  message: string,
  extra: Record<string, unknown> = {},
): GraphQLError {
  return new GraphQLError(message, { extensions: { code, ...extra } });
}

export function forbidden(message = 'You may not access this resource'): GraphQLError {
  return userError('FORBIDDEN', message);
}

export function unauthenticated(message = 'Sign in: send Authorization: Bearer <JWT>'): GraphQLError {
  return userError('UNAUTHENTICATED', message);
}

export function badUserInput(message: string, argument?: string): GraphQLError {
  return userError('BAD_USER_INPUT', message, argument ? { argument } : {});
}

/** Extensions for an upstream failure: the contract's fields, nothing that could leak. */
export function upstreamExtensions(error: UpstreamError): Record<string, unknown> {
  return {
    code: error.code,
    provider: error.provider,
    retryable: error.retryable,
    ...(error.retryAfterSeconds !== undefined ? { retryAfter: Math.ceil(error.retryAfterSeconds) } : {}),
    ...(error.status !== undefined ? { upstreamStatus: error.status } : {}),
    ...(error.upstreamCode !== undefined ? { upstreamCode: error.upstreamCode } : {}),
    ...(error.upstreamRequestId !== undefined ? { requestId: error.upstreamRequestId } : {}),
    ...(error.field !== undefined ? { field: error.field } : {}),
    ...(error.detail ?? {}),
  };
}

/** True for errors nobody raised on purpose: these are masked in production and logged. */
export function isUnexpectedError(error: unknown): boolean {
  const original = knownCause(error);
  if (
    isUpstreamError(original) ||
    original instanceof InvalidCursorError ||
    original instanceof InvalidTokenError
  )
    return false;
  if (original instanceof GraphQLError) {
    const code = original.extensions?.code;
    if (typeof code === 'string' && DELIBERATE_CODES.has(code)) return false;
    // graphql-js's own errors (bad variables, coercion) have no originalError and are safe.
    return original.originalError !== undefined && !(original.originalError instanceof GraphQLError);
  }
  return true;
}

/**
 * The error that says what really happened: Apollo and graphql-js wrap errors (resolver errors,
 * "Context creation failed"), so follow `originalError` down to one of ours when there is one.
 */
function knownCause(error: unknown): unknown {
  let current: unknown = unwrapResolverError(error);
  for (let depth = 0; depth < 5 && current instanceof GraphQLError && current.originalError; depth += 1) {
    const next = current.originalError;
    if (isUpstreamError(next) || next instanceof InvalidCursorError || next instanceof InvalidTokenError)
      return next;
    current = next;
  }
  return unwrapResolverError(error);
}

/** Apollo `formatError`: maps every error to the contract. */
export function createFormatError(options: { maskUnexpected: boolean }) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = knownCause(error);
    const base = { locations: formatted.locations, path: formatted.path };
    if (isUpstreamError(original)) {
      return { ...base, message: original.message, extensions: upstreamExtensions(original) };
    }
    if (original instanceof InvalidCursorError) {
      return {
        ...base,
        message: original.message,
        extensions: { code: 'BAD_USER_INPUT', argument: 'after' },
      };
    }
    if (original instanceof InvalidTokenError) {
      return { ...base, message: original.message, extensions: { code: 'UNAUTHENTICATED' } };
    }
    if (!isUnexpectedError(error)) {
      // Name the limit when the parser refused a document for its size (see limits.ts).
      if (
        formatted.extensions?.code === 'GRAPHQL_PARSE_FAILED' &&
        TOKEN_LIMIT_MESSAGE.test(formatted.message)
      ) {
        return { ...formatted, extensions: { ...formatted.extensions, limit: 'maxTokens' } };
      }
      return formatted;
    }
    if (options.maskUnexpected) {
      return { ...base, message: MASKED_MESSAGE, extensions: { code: 'INTERNAL_SERVER_ERROR' } };
    }
    return { ...formatted, extensions: { ...formatted.extensions, code: 'INTERNAL_SERVER_ERROR' } };
  };
}

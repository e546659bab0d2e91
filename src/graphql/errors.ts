// The one place where failures become the client-facing error contract (DESIGN.md): upstream
// errors get their code and safe details, errors we raise on purpose pass through, and anything
// unexpected is masked in production.
import { HeaderMap } from '@apollo/server';
import { unwrapResolverError } from '@apollo/server/errors';
import { GraphQLError, type GraphQLFormattedError, Kind } from 'graphql';
import { type AccountError, isAccountError } from '../accounts/errors.js';
import { isUpstreamError, type UpstreamError, type UpstreamErrorCode } from '../upstream/errors.js';
import { isInvalidCursorError } from '../upstream/pagination.js';
import { TOKEN_LIMIT_MESSAGE } from './limits.js';
import { isInvalidTokenError } from './viewer.js';

/**
 * The contract's codes (DESIGN.md). Each kind of upstream failure is answered with the contract
 * code of the same name (the choice is made here: upstream/ knows nothing of GraphQL).
 */
export type ErrorCode =
  | UpstreamErrorCode
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'RATE_LIMITED'
  | 'SERVICE_OVERLOADED'
  | AccountErrorContractCode
  | 'INTERNAL_SERVER_ERROR';

/**
 * Connected-accounts failures a client sees as they are (DESIGN.md): the viewer has no connection
 * to the provider, or must connect again. The other AccountError codes are the callback's or input
 * errors the resolvers turn into BAD_USER_INPUT.
 */
export type AccountErrorContractCode = 'ACCOUNT_NOT_CONNECTED' | 'RECONNECT_REQUIRED';

/** True for an AccountError that the contract shows with its own code. */
export function isContractAccountError(
  error: unknown,
): error is AccountError & { code: AccountErrorContractCode } {
  return (
    isAccountError(error) && (error.code === 'ACCOUNT_NOT_CONNECTED' || error.code === 'RECONNECT_REQUIRED')
  );
}

/** Codes Junction or Apollo raise on purpose: their messages are safe to show as they are. */
const DELIBERATE_CODES = new Set<string>([
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'BAD_USER_INPUT',
  'NOT_FOUND',
  'RATE_LIMITED',
  'SERVICE_OVERLOADED',
  'ACCOUNT_NOT_CONNECTED',
  'RECONNECT_REQUIRED',
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

/**
 * The client's own limit was reached (DESIGN.md's RATE_LIMITED). Over HTTP a 429 with `Retry-After`;
 * over the WebSocket an error for that operation. `limit` names which limit, `retryAfter` (seconds)
 * when waiting helps.
 */
export function rateLimited(
  message: string,
  details: { limit: string; retryAfterSeconds?: number | undefined },
): GraphQLError {
  const retryAfter = details.retryAfterSeconds;
  // Apollo reads `http.headers` as a Map (HeaderMap); other libraries' typings say a plain record.
  const http: Record<string, unknown> = {
    status: 429,
    headers: new HeaderMap(retryAfter !== undefined ? [['retry-after', String(retryAfter)]] : []),
  };
  return new GraphQLError(message, {
    extensions: {
      code: 'RATE_LIMITED',
      limit: details.limit,
      ...(retryAfter !== undefined ? { retryAfter } : {}),
      http,
    },
  });
}

/**
 * Junction itself is overloaded and sheds new work (loadShedding.ts): not the client's limit
 * (RATE_LIMITED) nor a provider's (UPSTREAM_*). Over HTTP a 503 with `Retry-After`; over the
 * WebSocket an error for that operation. `retryAfter` in seconds.
 */
export function serviceOverloaded(retryAfterSeconds: number): GraphQLError {
  return new GraphQLError(`The server is overloaded; retry after ${retryAfterSeconds} s`, {
    extensions: { code: 'SERVICE_OVERLOADED', retryAfter: retryAfterSeconds },
  });
}

export function isServiceOverloadedError(error: unknown): error is GraphQLError {
  return error instanceof GraphQLError && error.extensions.code === 'SERVICE_OVERLOADED';
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
    isInvalidCursorError(original) ||
    isInvalidTokenError(original) ||
    isContractAccountError(original)
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
    if (
      isUpstreamError(next) ||
      isInvalidCursorError(next) ||
      isInvalidTokenError(next) ||
      isContractAccountError(next)
    )
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
    if (isInvalidCursorError(original)) {
      return {
        ...base,
        message: original.message,
        extensions: { code: 'BAD_USER_INPUT', argument: 'after' },
      };
    }
    if (isInvalidTokenError(original)) {
      return { ...base, message: original.message, extensions: { code: 'UNAUTHENTICATED' } };
    }
    if (isContractAccountError(original)) {
      return {
        ...base,
        message: original.message,
        extensions: { code: original.code, ...(original.provider ? { provider: original.provider } : {}) },
      };
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

export type FormatError = (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;

/**
 * Errors that did not pass through Apollo (those of a subscription's events, or refusals made on
 * the WebSocket before Apollo ran) formatted as Apollo formats its own: a default code, variable
 * errors as BAD_USER_INPUT, `extensions.http` (a transport detail) removed, then `formatError`.
 */
export function formatGraphQLErrors(
  errors: readonly unknown[],
  formatError: FormatError,
): GraphQLFormattedError[] {
  return errors.map((raw) => {
    const error =
      raw instanceof GraphQLError
        ? raw
        : new GraphQLError(raw instanceof Error ? raw.message : 'Unexpected error value', {
            originalError: raw instanceof Error ? raw : undefined,
          });
    const code =
      error.extensions.code ?? (isVariableError(error) ? 'BAD_USER_INPUT' : 'INTERNAL_SERVER_ERROR');
    const extensions: Record<string, unknown> = { ...error.extensions, code };
    delete extensions.http;
    try {
      return formatError({ ...error.toJSON(), extensions }, error);
    } catch {
      return { message: MASKED_MESSAGE, extensions: { code: 'INTERNAL_SERVER_ERROR' } };
    }
  });
}

/** graphql-js's variable coercion errors (Apollo gives them BAD_USER_INPUT the same way). */
function isVariableError(error: GraphQLError): boolean {
  const node = error.nodes?.length === 1 ? error.nodes[0] : undefined;
  if (!node || node.kind !== Kind.VARIABLE_DEFINITION) return false;
  const name = `Variable "$${node.variable.name.value}"`;
  return [' has invalid value', ' got invalid value ', ' of required type ', ' of non-null type '].some(
    (tail) => error.message.startsWith(name + tail),
  );
}

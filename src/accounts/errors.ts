// Typed failures of connected accounts. Each has a stable `code`: the GraphQL layer maps
// ACCOUNT_NOT_CONNECTED and RECONNECT_REQUIRED to the error contract as they are, and the OAuth
// callback puts the OAUTH_* codes in its redirect (`?error=<code>`). None carries a token, a state,
// a verifier or a provider's own error text.

export type AccountErrorCode =
  /** The user has no connection to this provider. */
  | 'ACCOUNT_NOT_CONNECTED'
  /** The connection exists but its grant is gone (refresh refused, token answered 401): connect again. */
  | 'RECONNECT_REQUIRED'
  /** `returnTo` is not on the OAUTH_RETURN_URLS allowlist (a client input error). */
  | 'RETURN_URL_NOT_ALLOWED'
  /** The provider is not one connected accounts know. */
  | 'PROVIDER_NOT_SUPPORTED'
  /** The callback's state is missing, malformed, unknown, already used or for another provider. */
  | 'OAUTH_STATE_INVALID'
  /** The callback's state was issued more than the state lifetime ago. */
  | 'OAUTH_STATE_EXPIRED'
  /** The callback was completed by another viewer than the one who began the flow. */
  | 'OAUTH_STATE_WRONG_VIEWER'
  /** The user declined consent at the provider (or the provider reported another authorize error). */
  | 'OAUTH_ACCESS_DENIED'
  /** Exchanging the code at the provider failed (refused, wrong verifier, unreachable, malformed). */
  | 'OAUTH_EXCHANGE_FAILED'
  /** A stored ciphertext cannot be decrypted with the key ring (a key was removed too early). */
  | 'TOKEN_DECRYPT_FAILED';

const MARKER = Symbol.for('junction.AccountError');

export class AccountError extends Error {
  readonly [MARKER] = true;
  readonly code: AccountErrorCode;
  /** Provider id (`github`), when the error is about one. */
  readonly provider: string | undefined;

  constructor(code: AccountErrorCode, message: string, options: { provider?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AccountError';
    this.code = code;
    this.provider = options.provider;
  }
}

/** Works across module copies (marker symbol), unlike `instanceof`. */
export function isAccountError(error: unknown): error is AccountError {
  return typeof error === 'object' && error !== null && MARKER in error;
}

export function isAccountErrorCode<C extends AccountErrorCode>(
  error: unknown,
  code: C,
): error is AccountError & { code: C } {
  return isAccountError(error) && error.code === code;
}

// What every provider's webhook handler uses: why a delivery was refused (a stable reason for
// metrics and logs, and the HTTP status to answer), and safe readers of a verified body.

export type WebhookRejectReason =
  | 'missing_signature'
  | 'malformed_signature'
  | 'timestamp_out_of_tolerance'
  | 'signature_mismatch'
  | 'malformed_body'
  | 'not_configured';

const STATUS: Record<WebhookRejectReason, number> = {
  missing_signature: 400,
  malformed_signature: 400,
  timestamp_out_of_tolerance: 400,
  signature_mismatch: 400,
  malformed_body: 400,
  not_configured: 503,
};

export class WebhookVerificationError extends Error {
  readonly code = 'WEBHOOK_REJECTED';
  readonly status: number;
  constructor(
    readonly provider: string,
    readonly reason: WebhookRejectReason,
    detail?: string,
  ) {
    super(`${provider} webhook rejected: ${reason}${detail ? ` (${detail})` : ''}`);
    this.name = 'WebhookVerificationError';
    this.status = STATUS[reason];
  }
}

export function isWebhookVerificationError(error: unknown): error is WebhookVerificationError {
  return error instanceof WebhookVerificationError;
}

/** A verified body as JSON, or undefined when it is not JSON (the caller counts it unusable). */
export function parseJsonBody(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    return undefined;
  }
}

/** `value` when it is non-empty and at most `maxLength` long, else null: bounds what a callback carries. */
export function bounded(value: string | null, maxLength: number): string | null {
  return value !== null && value.length > 0 && value.length <= maxLength ? value : null;
}

/**
 * `verify` with each key in turn (the current one first, then one replaced within its grace
 * period): the first that verifies wins. A delivery is refused for a mismatch only when no key
 * matches; any other refusal (a missing or malformed signature, a stale timestamp) is the same for
 * every key and comes from the first.
 */
export function verifyWithAny<K, R>(provider: string, keys: readonly K[], verify: (key: K) => R): R {
  if (keys.length === 0) throw new WebhookVerificationError(provider, 'not_configured');
  let mismatch: WebhookVerificationError | undefined;
  for (const key of keys) {
    try {
      return verify(key);
    } catch (error) {
      if (!isWebhookVerificationError(error) || error.reason !== 'signature_mismatch') throw error;
      mismatch ??= error;
    }
  }
  throw mismatch;
}

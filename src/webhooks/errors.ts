// Why a webhook was refused: a stable reason (metric label, log field) and the HTTP status to answer.

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

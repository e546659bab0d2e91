// X-Hub-Signature-256: `sha256=<hex HMAC-SHA256(secret, raw body)>`. Any one of several secrets may
// match, so a webhook secret can be rotated without dropping deliveries. Compared in constant time.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { WebhookVerificationError } from '../webhookKit.js';

/** Throws WebhookVerificationError unless `payload` (the raw bytes) was signed by one of `secrets`. */
export function verifyGitHubSignature(
  payload: Buffer,
  header: string | undefined,
  secrets: readonly string[],
): void {
  const provider = 'github';
  if (secrets.length === 0) throw new WebhookVerificationError(provider, 'not_configured');
  if (!header) throw new WebhookVerificationError(provider, 'missing_signature');
  const match = /^sha256=([0-9a-f]{64})$/i.exec(header.trim());
  if (!match?.[1]) throw new WebhookVerificationError(provider, 'malformed_signature');
  const given = Buffer.from(match[1], 'hex');
  let matched = false;
  for (const secret of secrets) {
    const expected = createHmac('sha256', secret).update(payload).digest();
    // Every secret is tried, so the time taken does not tell which one matched.
    if (timingSafeEqual(expected, given)) matched = true;
  }
  if (!matched) throw new WebhookVerificationError(provider, 'signature_mismatch');
}

// Stripe-Signature: `t=<unix>,v1=<hex HMAC-SHA256(secret, "t.payload")>[,v1=...]`. Several v1
// values and several secrets are accepted, so a secret can be rotated without dropping events.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { WebhookVerificationError } from '../webhookKit.js';

export interface StripeVerifyOptions {
  /** Signing secrets (`whsec_...`); any one may match. */
  secrets: readonly string[];
  /** Allowed clock difference in seconds, both directions. Default 300 s (Stripe's own). */
  toleranceSeconds?: number;
  /** Clock in ms. Default Date.now. */
  now?: () => number;
}

/** Throws WebhookVerificationError unless `payload` (the raw bytes) was signed by one of the secrets. */
export function verifyStripeSignature(
  payload: Buffer,
  header: string | undefined,
  options: StripeVerifyOptions,
): void {
  const provider = 'stripe';
  if (options.secrets.length === 0) throw new WebhookVerificationError(provider, 'not_configured');
  if (!header) throw new WebhookVerificationError(provider, 'missing_signature');
  let timestamp: number | undefined;
  const signatures: Buffer[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't' && /^\d{1,12}$/.test(value)) timestamp = Number(value);
    else if (key === 'v1' && /^[0-9a-f]{64}$/i.test(value)) signatures.push(Buffer.from(value, 'hex'));
  }
  if (timestamp === undefined || signatures.length === 0)
    throw new WebhookVerificationError(provider, 'malformed_signature');
  const tolerance = options.toleranceSeconds ?? 300;
  const nowSeconds = (options.now ?? Date.now)() / 1000;
  if (Math.abs(nowSeconds - timestamp) > tolerance) {
    throw new WebhookVerificationError(provider, 'timestamp_out_of_tolerance');
  }
  const signed = Buffer.concat([Buffer.from(`${timestamp}.`), payload]);
  for (const secret of options.secrets) {
    const expected = createHmac('sha256', secret).update(signed).digest();
    // Constant-time comparison, against every v1 given.
    for (const candidate of signatures) if (timingSafeEqual(expected, candidate)) return;
  }
  throw new WebhookVerificationError(provider, 'signature_mismatch');
}

// SendGrid event webhook: ECDSA P-256 / SHA-256 over (timestamp + raw payload), signature in
// X-Twilio-Email-Event-Webhook-Signature (base64 DER), timestamp in ...-Timestamp (unix seconds).
import { createPublicKey, type KeyObject, verify } from 'node:crypto';
import { WebhookVerificationError } from '../webhookKit.js';

/** SendGrid shows the key as base64 DER (SPKI); PEM is accepted too. */
export function sendgridPublicKey(value: string): KeyObject {
  const trimmed = value.trim();
  if (trimmed.startsWith('-----BEGIN')) return createPublicKey(trimmed);
  return createPublicKey({ key: Buffer.from(trimmed, 'base64'), format: 'der', type: 'spki' });
}

export interface SendGridVerifyOptions {
  publicKey: KeyObject | undefined;
  /** Allowed clock difference in seconds, both directions. Default 300 s. */
  toleranceSeconds?: number;
  now?: () => number;
}

export function verifySendGridSignature(
  payload: Buffer,
  signature: string | undefined,
  timestamp: string | undefined,
  options: SendGridVerifyOptions,
): void {
  const provider = 'sendgrid';
  if (!options.publicKey) throw new WebhookVerificationError(provider, 'not_configured');
  if (!signature || !timestamp) throw new WebhookVerificationError(provider, 'missing_signature');
  if (!/^\d{1,12}$/.test(timestamp) || !/^[A-Za-z0-9+/]+=*$/.test(signature)) {
    throw new WebhookVerificationError(provider, 'malformed_signature');
  }
  const nowSeconds = (options.now ?? Date.now)() / 1000;
  if (Math.abs(nowSeconds - Number(timestamp)) > (options.toleranceSeconds ?? 300)) {
    throw new WebhookVerificationError(provider, 'timestamp_out_of_tolerance');
  }
  const data = Buffer.concat([Buffer.from(timestamp, 'utf8'), payload]);
  let ok = false;
  try {
    ok = verify(
      'sha256',
      data,
      { key: options.publicKey, dsaEncoding: 'der' },
      Buffer.from(signature, 'base64'),
    );
  } catch {
    ok = false;
  }
  if (!ok) throw new WebhookVerificationError(provider, 'signature_mismatch');
}

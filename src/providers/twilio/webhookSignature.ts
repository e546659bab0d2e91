// X-Twilio-Signature: base64(HMAC-SHA1(authToken, url + sorted form params as name+value)). For
// JSON bodies the URL carries `bodySHA256`, which must match the body. Twilio signs the public
// URL it called, so the URL is rebuilt from PUBLIC_BASE_URL, never from the Host header.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { WebhookVerificationError } from '../webhookKit.js';

export interface TwilioVerifyInput {
  authToken: string;
  /** The full public URL Twilio requested (PUBLIC_BASE_URL + path + query). */
  url: string;
  signature: string | undefined;
  contentType: string | undefined;
  rawBody: Buffer;
}

/** The signature Twilio computes for `url` and form `params` (values of a repeated name sorted). */
export function twilioSignature(authToken: string, url: string, params: URLSearchParams | null): string {
  let data = url;
  if (params) {
    const names = [...new Set(params.keys())].sort();
    for (const name of names) for (const value of params.getAll(name).sort()) data += name + value;
  }
  return createHmac('sha1', authToken).update(Buffer.from(data, 'utf8')).digest('base64');
}

/** Returns the verified form params (empty for JSON bodies); throws WebhookVerificationError. */
export function verifyTwilioSignature(input: TwilioVerifyInput): URLSearchParams {
  const provider = 'twilio';
  if (!input.signature) throw new WebhookVerificationError(provider, 'missing_signature');
  if (!/^[A-Za-z0-9+/]{27}=$/.test(input.signature))
    throw new WebhookVerificationError(provider, 'malformed_signature');
  const given = Buffer.from(input.signature, 'base64');
  const isForm = (input.contentType ?? '').toLowerCase().startsWith('application/x-www-form-urlencoded');
  const url = new URL(input.url);
  const bodyHash = url.searchParams.get('bodySHA256');
  let params: URLSearchParams | null;
  if (isForm) {
    params = new URLSearchParams(input.rawBody.toString('utf8'));
  } else {
    if (!bodyHash)
      throw new WebhookVerificationError(provider, 'malformed_body', 'JSON body without bodySHA256');
    const actual = createHash('sha256').update(input.rawBody).digest('hex');
    if (!safeEqual(Buffer.from(actual), Buffer.from(bodyHash.toLowerCase()))) {
      throw new WebhookVerificationError(provider, 'signature_mismatch', 'bodySHA256');
    }
    params = null;
  }
  // Twilio may sign the URL with or without the default port; accept either spelling.
  for (const candidate of urlVariants(url)) {
    const expected = Buffer.from(twilioSignature(input.authToken, candidate, params), 'base64');
    if (safeEqual(expected, given)) return params ?? new URLSearchParams();
  }
  throw new WebhookVerificationError(provider, 'signature_mismatch');
}

function urlVariants(url: URL): string[] {
  const asIs = url.toString();
  const defaultPort = url.protocol === 'https:' ? '443' : '80';
  const withPort = url.port ? asIs : asIs.replace(url.host, `${url.hostname}:${defaultPort}`);
  const withoutPort = url.port === defaultPort ? asIs.replace(url.host, url.hostname) : asIs;
  return [...new Set([asIs, withPort, withoutPort])];
}

function safeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

// Signature verification, checked against what the providers' own libraries produce.
import { createHash, createSign, generateKeyPairSync } from 'node:crypto';
import Stripe from 'stripe';
import twilio from 'twilio';
import { describe, expect, it } from 'vitest';
import {
  sendgridPublicKey,
  verifySendGridSignature,
} from '../../../src/providers/sendgrid/webhookSignature.js';
import { verifyStripeSignature } from '../../../src/providers/stripe/webhookSignature.js';
import { twilioSignature, verifyTwilioSignature } from '../../../src/providers/twilio/webhookSignature.js';
import { LocalEventDedupe } from '../../../src/state/dedupe.js';

const stripe = new Stripe('sk_test_unused');
const SECRET = 'whsec_test_secret_one';
const NEW_SECRET = 'whsec_test_secret_two';
const payload = JSON.stringify({ id: 'evt_1', object: 'event', type: 'payment_intent.succeeded' });
const NOW = 1_800_000_000_000;

function stripeHeader(secret: string, timestampSeconds: number, body = payload) {
  return stripe.webhooks.generateTestHeaderString({ payload: body, secret, timestamp: timestampSeconds });
}

describe('verifyStripeSignature', () => {
  const verify = (header: string | undefined, secrets = [SECRET], body = payload) =>
    verifyStripeSignature(Buffer.from(body), header, { secrets, now: () => NOW });

  it('accepts an event signed by stripe.webhooks.generateTestHeaderString', () => {
    expect(() => verify(stripeHeader(SECRET, NOW / 1000))).not.toThrow();
  });

  it('accepts a timestamp 299 s old and rejects 301 s old or 301 s in the future', () => {
    expect(() => verify(stripeHeader(SECRET, NOW / 1000 - 299))).not.toThrow();
    expect(() => verify(stripeHeader(SECRET, NOW / 1000 - 301))).toThrow(/timestamp_out_of_tolerance/);
    expect(() => verify(stripeHeader(SECRET, NOW / 1000 + 301))).toThrow(/timestamp_out_of_tolerance/);
  });

  it('rejects a single tampered byte', () => {
    const header = stripeHeader(SECRET, NOW / 1000);
    const tampered = payload.replace('succeeded', 'succeedee');
    expect(() => verify(header, [SECRET], tampered)).toThrow(/signature_mismatch/);
  });

  it('accepts both the old and the new secret while they overlap', () => {
    const t = NOW / 1000;
    expect(() => verify(stripeHeader(SECRET, t), [SECRET, NEW_SECRET])).not.toThrow();
    expect(() => verify(stripeHeader(NEW_SECRET, t), [SECRET, NEW_SECRET])).not.toThrow();
    // Stripe itself sends one v1 per active secret during a rotation.
    const both = `${stripeHeader(SECRET, t)},v1=${stripeHeader(NEW_SECRET, t).split('v1=')[1]}`;
    expect(() => verify(both, [NEW_SECRET])).not.toThrow();
    expect(() => verify(stripeHeader('whsec_someone_else', t), [SECRET, NEW_SECRET])).toThrow(
      /signature_mismatch/,
    );
  });

  it('names what is wrong with a missing or malformed header', () => {
    expect(() => verify(undefined)).toThrow(/missing_signature/);
    expect(() => verify('t=abc,v1=zz')).toThrow(/malformed_signature/);
    expect(() => verifyStripeSignature(Buffer.from(payload), 'x', { secrets: [] })).toThrow(/not_configured/);
  });
});

describe('verifyTwilioSignature', () => {
  const authToken = '0123456789abcdef0123456789abcdef';
  const url = 'https://junction.example.com/webhooks/twilio?userId=usr_0001';
  const params = {
    MessageSid: 'SM0123456789abcdef0123456789abcdef',
    MessageStatus: 'delivered',
    To: '+15551234567',
    AccountSid: 'AC0123456789abcdef0123456789abcdef',
  };
  const body = Buffer.from(new URLSearchParams(params).toString());
  const form = 'application/x-www-form-urlencoded';

  it('accepts a request signed by twilio.getExpectedTwilioSignature, and agrees with it', () => {
    const signature = twilio.getExpectedTwilioSignature(authToken, url, params);
    expect(twilioSignature(authToken, url, new URLSearchParams(params))).toBe(signature);
    const verified = verifyTwilioSignature({ authToken, url, signature, contentType: form, rawBody: body });
    expect(verified.get('MessageStatus')).toBe('delivered');
    expect(twilio.validateRequest(authToken, signature, url, params)).toBe(true);
  });

  it('rejects a tampered parameter, a different URL, and a wrong token', () => {
    const signature = twilio.getExpectedTwilioSignature(authToken, url, params);
    const tampered = Buffer.from(new URLSearchParams({ ...params, MessageStatus: 'failed' }).toString());
    expect(() =>
      verifyTwilioSignature({ authToken, url, signature, contentType: form, rawBody: tampered }),
    ).toThrow(/signature_mismatch/);
    expect(() =>
      verifyTwilioSignature({
        authToken,
        url: url.replace('usr_0001', 'usr_0002'),
        signature,
        contentType: form,
        rawBody: body,
      }),
    ).toThrow(/signature_mismatch/);
    expect(() =>
      verifyTwilioSignature({ authToken: 'f'.repeat(32), url, signature, contentType: form, rawBody: body }),
    ).toThrow(/signature_mismatch/);
  });

  it('checks bodySHA256 for JSON bodies', () => {
    const json = Buffer.from(JSON.stringify({ hello: 'world' }));
    const hash = createHash('sha256').update(json).digest('hex');
    const jsonUrl = `https://junction.example.com/webhooks/twilio?bodySHA256=${hash}`;
    const signature = twilio.getExpectedTwilioSignature(authToken, jsonUrl, {});
    expect(() =>
      verifyTwilioSignature({
        authToken,
        url: jsonUrl,
        signature,
        contentType: 'application/json',
        rawBody: json,
      }),
    ).not.toThrow();
    expect(twilio.validateRequestWithBody(authToken, signature, jsonUrl, json.toString())).toBe(true);
    const changed = Buffer.from(JSON.stringify({ hello: 'World' }));
    expect(() =>
      verifyTwilioSignature({
        authToken,
        url: jsonUrl,
        signature,
        contentType: 'application/json',
        rawBody: changed,
      }),
    ).toThrow(/signature_mismatch/);
  });
});

describe('verifySendGridSignature', () => {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const publicKeyB64 = publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
  const events = Buffer.from(
    JSON.stringify([{ email: 'a@example.com', event: 'delivered', sg_event_id: 'ev1', timestamp: 1 }]),
  );
  const sign = (timestamp: string, body: Buffer) => {
    const signer = createSign('sha256');
    signer.update(Buffer.concat([Buffer.from(timestamp), body]));
    return signer.sign(privateKey).toString('base64');
  };
  const verify = (signature: string, timestamp: string, body = events) =>
    verifySendGridSignature(body, signature, timestamp, {
      publicKey: sendgridPublicKey(publicKeyB64),
      now: () => NOW,
    });

  it('accepts a payload signed with a key pair generated here, within 300 s', () => {
    const t = String(NOW / 1000 - 299);
    expect(() => verify(sign(t, events), t)).not.toThrow();
  });

  it('rejects 301 s old or ahead, a tampered byte, and another key', () => {
    const old = String(NOW / 1000 - 301);
    expect(() => verify(sign(old, events), old)).toThrow(/timestamp_out_of_tolerance/);
    const ahead = String(NOW / 1000 + 301);
    expect(() => verify(sign(ahead, events), ahead)).toThrow(/timestamp_out_of_tolerance/);
    const t = String(NOW / 1000);
    const tampered = Buffer.from(events.toString().replace('delivered', 'delivereD'));
    expect(() => verify(sign(t, events), t, tampered)).toThrow(/signature_mismatch/);
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const foreign = createSign('sha256')
      .update(Buffer.concat([Buffer.from(t), events]))
      .sign(other)
      .toString('base64');
    expect(() => verify(foreign, t)).toThrow(/signature_mismatch/);
  });
});

describe('LocalEventDedupe (webhook intake without Redis)', () => {
  it('runs one event replayed 5 times concurrently exactly once', async () => {
    const deduper = new LocalEventDedupe();
    let effects = 0;
    const effect = async () => {
      await new Promise((r) => setTimeout(r, 10));
      effects += 1;
    };
    const results = await Promise.all(Array.from({ length: 5 }, () => deduper.once('evt_1', effect)));
    expect(effects).toBe(1);
    expect(results.filter((r) => !r.duplicate)).toHaveLength(1);
    expect((await deduper.once('evt_1', effect)).duplicate).toBe(true);
    expect(effects).toBe(1);
  });

  it('forgets an event whose effects failed, so the provider retry runs them', async () => {
    const deduper = new LocalEventDedupe();
    await expect(
      deduper.once('evt_2', async () => {
        throw new Error('cache down');
      }),
    ).rejects.toThrow('cache down');
    let ran = false;
    await deduper.once('evt_2', async () => {
      ran = true;
    });
    expect(ran).toBe(true);
  });
});

// Deterministic Twilio demo data linked to the users seed: 0..4 SMS per user to the user's phone from the
// demo number, from a PRNG seeded by the user's position (adding users changes no old message).
import type { SimUserRecord } from '../users/seed.js';
import { createPrng } from '../users/seed.js';
import type { TwilioMessage, TwilioMessageStatus } from './messages.js';
import { buildMessage, twilioSid, withMessageStatus } from './messages.js';

/** Default PRNG seed of the Twilio demo data. */
export const DEFAULT_TWILIO_SEED = 0x5eed_7111;

/** Seeded messages are created before this instant: 2026-11-01T00:00:00Z (ms). */
export const TWILIO_SEED_END_MS = Date.UTC(2026, 10, 1);

/** Twilio's magic test number that is always a valid sender with test credentials. */
export const DEMO_FROM_NUMBER = '+15005550006';

export interface TwilioSeedOptions {
  accountSid: string;
  /** Default: DEMO_FROM_NUMBER. */
  fromNumber?: string;
  /** Default: DEFAULT_TWILIO_SEED. */
  seed?: number;
}

const BODIES = [
  'Your Junction verification code is {code}.',
  'Your payment of USD {amount} was received. Thank you!',
  'Reminder: your appointment is tomorrow at {hour}:00.',
  'Your order #{order} has shipped.',
  'Your receipt is ready: https://example.com/r/{order}',
] as const;

const FINAL_STATUSES: ReadonlyArray<readonly [TwilioMessageStatus, number]> = [
  ['delivered', 0.85],
  ['sent', 0.05],
  ['undelivered', 0.05],
  ['failed', 0.05],
];

/** Builds the seeded messages of every user with a phone number, oldest first per user. */
export function seedTwilio(users: readonly SimUserRecord[], opts: TwilioSeedOptions): TwilioMessage[] {
  const fromNumber = opts.fromNumber ?? DEMO_FROM_NUMBER;
  const seed = opts.seed ?? DEFAULT_TWILIO_SEED;
  const messages: TwilioMessage[] = [];
  users.forEach((user, index) => {
    if (!user.phone_number) return;
    const random = createPrng((seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
    const count = Math.floor(random() * 5); // 0..4
    const firstMs = user.created_timestamp * 1000;
    const times = Array.from({ length: count }, () =>
      Math.floor(firstMs + random() * Math.max(1, TWILIO_SEED_END_MS - firstMs)),
    ).sort((a, b) => a - b);
    for (const createdAt of times) {
      const queued = buildMessage({
        sid: twilioSid('SM', random),
        accountSid: opts.accountSid,
        to: user.phone_number,
        from: fromNumber,
        body: fillBody(random),
        messagingServiceSid: null,
        status: 'queued',
        createdAt,
      });
      const sentAt = createdAt + 1000 + Math.floor(random() * 4000);
      const status = pickStatus(random);
      const error = status === 'failed' ? { code: 30008, message: 'Unknown error' } : undefined;
      const sent = withMessageStatus(queued, status === 'failed' ? 'failed' : 'sent', sentAt, error);
      messages.push(
        status === 'failed' || status === 'sent'
          ? sent
          : withMessageStatus(sent, status, sentAt + 1000 + Math.floor(random() * 9000)),
      );
    }
  });
  return messages;
}

function fillBody(random: () => number): string {
  const template = BODIES[Math.floor(random() * BODIES.length)] ?? BODIES[0];
  return template
    .replace('{code}', String(100_000 + Math.floor(random() * 900_000)))
    .replace('{amount}', (5 + Math.floor(random() * 200) * 2.5).toFixed(2))
    .replace('{hour}', String(8 + Math.floor(random() * 10)))
    .replaceAll('{order}', String(10_000 + Math.floor(random() * 90_000)));
}

function pickStatus(random: () => number): TwilioMessageStatus {
  let r = random();
  for (const [status, weight] of FINAL_STATUSES) {
    if (r < weight) return status;
    r -= weight;
  }
  return 'delivered';
}

// Deterministic demo users for the users-service simulator: the same count and seed always give the
// same records (a seeded PRNG, never Math.random), and the first N records don't depend on the count.

/** A user as the users service returns it on the wire (snake_case). */
export interface SimUserRecord {
  user_id: string;
  email_address: string;
  first_name: string;
  last_name: string;
  /** E.164, unique across the seed. */
  phone_number: string;
  /** `cus_...` for users with a Stripe customer, null for the ~10% without one. */
  stripe_customer_id: string | null;
  /** Unix seconds (integer). */
  created_timestamp: number;
}

/** Default PRNG seed of the demo data. */
export const DEFAULT_SEED = 0x5eed_1234;

const FIRST_NAMES: readonly string[] = (
  'Ada Alan Amara Ana Arjun Beatriz Ben Carlos Chen Chloe Daniel Diego Elena Emeka Emma Farah ' +
  'Felix Grace Hana Hugo Ines Isaac Jamal Jin Julia Kai Kofi Lara Leo Lina Lucas Maya Mateo Mei ' +
  'Nadia Noah Olga Omar Priya Rafael Rosa Sam Sofia Tariq Thea Tomas Uma Victor Yara Yusuf Zoe'
).split(' ');

const LAST_NAMES: readonly string[] = (
  'Adeyemi Alvarez Andersen Bauer Brown Chen Costa Dubois Eriksson Fischer Garcia Gupta Hansen ' +
  'Hernandez Ito Jensen Johnson Kim Kowalski Lee Lopez Martin Mensah Moreau Nakamura Nguyen Novak ' +
  'Okafor Olsen Patel Petrov Rossi Santos Schmidt Silva Singh Smith Tanaka Taylor Weber Williams ' +
  'Yilmaz Zhang'
).split(' ');

const EMAIL_DOMAINS = ['example.com', 'example.org', 'example.net'] as const;

const ALPHANUMERIC: readonly string[] = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'];

/** 2020-01-01T00:00:00Z; user N was created about N * 1.7 days later. */
const FIRST_CREATED_AT = 1_577_836_800;
const CREATED_SPACING_SECONDS = 150_000;
const CREATED_JITTER_SECONDS = 100_000; // < spacing, so created_timestamp rises with user_id

/** mulberry32: a tiny seeded PRNG returning uniform numbers in [0, 1). */
export function createPrng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** The id of the n-th seeded user (1-based): `usr_0001`. */
export function seedUserId(n: number): string {
  return `usr_${String(n).padStart(4, '0')}`;
}

function pick<T>(random: () => number, items: readonly T[]): T {
  const item = items[Math.floor(random() * items.length)];
  if (item === undefined) throw new Error('pick() from an empty list');
  return item;
}

function asciiLower(name: string): string {
  return name.toLowerCase().replace(/[^a-z]/g, '');
}

/**
 * Builds `count` users `usr_0001`..; deterministic for a given seed.
 * @param count how many users. Default 1000.
 * @param seed PRNG seed. Default DEFAULT_SEED.
 */
export function seedUsers(count = 1000, seed = DEFAULT_SEED): SimUserRecord[] {
  if (!Number.isInteger(count) || count < 0) {
    throw new TypeError(`seedUsers count must be an integer >= 0, but got: ${String(count)}`);
  }
  const random = createPrng(seed);
  const emails = new Set<string>();
  const customerIds = new Set<string>();
  const users: SimUserRecord[] = [];

  for (let n = 1; n <= count; n++) {
    const first = pick(random, FIRST_NAMES);
    const last = pick(random, LAST_NAMES);
    const domain = pick(random, EMAIL_DOMAINS);

    const local = `${asciiLower(first)}.${asciiLower(last)}`;
    let email = `${local}@${domain}`;
    for (let suffix = 2; emails.has(email); suffix++) email = `${local}${suffix}@${domain}`;
    emails.add(email);

    // 7_654_321 is coprime with 8_000_000, so n -> subscriber number is a bijection: unique phones.
    const subscriber = 2_000_000 + ((n * 7_654_321) % 8_000_000);
    const phone = `+1555${subscriber}`;

    let customerId: string | null = null;
    if (random() >= 0.1) {
      do {
        let id = 'cus_';
        for (let i = 0; i < 14; i++) id += pick(random, ALPHANUMERIC);
        customerId = id;
      } while (customerIds.has(customerId));
      customerIds.add(customerId);
    }

    const created =
      FIRST_CREATED_AT + (n - 1) * CREATED_SPACING_SECONDS + Math.floor(random() * CREATED_JITTER_SECONDS);

    users.push({
      user_id: seedUserId(n),
      email_address: email,
      first_name: first,
      last_name: last,
      phone_number: phone,
      stripe_customer_id: customerId,
      created_timestamp: created,
    });
  }
  return users;
}

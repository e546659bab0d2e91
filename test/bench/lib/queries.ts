// The scenarios' GraphQL operations, Zipf-distributed user ids (seeded, so every system sees the
// same keys), and the floor of upstream calls a query needs.
import { seedUsers } from '../../../src/simulators/users/seed.js';

/** mulberry32: small, fast, seeded. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const USERS = seedUsers(1000);
export const USER_IDS = USERS.map((u) => u.user_id);
const CUSTOMER_OF = new Map(USERS.map((u) => [u.user_id, u.stripe_customer_id]));

/**
 * Draws user ids with P(rank k) ∝ 1/k^s over the 1000 seeded users. Ranks map to users through a
 * fixed shuffle, so the popular users are spread over the id space.
 */
export function zipf(exponent: number, seed: number): () => string {
  const random = prng(seed);
  const order = [...USER_IDS];
  const shuffle = prng(0x5eed);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(shuffle() * (i + 1));
    [order[i], order[j]] = [order[j] as string, order[i] as string];
  }
  const cdf: number[] = [];
  let total = 0;
  for (let k = 1; k <= order.length; k++) {
    total += 1 / k ** exponent;
    cdf.push(total);
  }
  return () => {
    const x = random() * total;
    let lo = 0;
    let hi = cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((cdf[mid] as number) < x) lo = mid + 1;
      else hi = mid;
    }
    return order[lo] as string;
  };
}

const USER_FIELDS = 'id name billing { id } payments(first: 3) { nodes { id } }';

/** A GraphQL request: one document per shape, ids in variables (as real clients send them). */
export interface Operation {
  query: string;
  variables?: Record<string, unknown>;
}

/**
 * `user(id:)` for each id (aliased), with name, billing and payments. The ids travel as variables,
 * so every query of the same size is the same document (parsed and validated once by each server).
 */
export function byIdsQuery(ids: readonly string[], fields = USER_FIELDS): Operation {
  const params = ids.map((_, i) => `$i${i}: ID!`).join(', ');
  const selections = ids.map((_, i) => `u${i}: user(id: $i${i}) { ${fields} }`).join(' ');
  return {
    query: `query ByIds${ids.length}(${params}) { ${selections} }`,
    variables: Object.fromEntries(ids.map((id, i) => [`i${i}`, id])),
  };
}

/** `users(first:)` with the given fields per user. */
export function listQuery(first: number, fields = USER_FIELDS): Operation {
  return {
    query: `query List($first: Int!) { users(first: $first) { nodes { ${fields} } } }`,
    variables: { first },
  };
}

/** S5's query: the users' names (users service, healthy) and their billing (Stripe, down). */
export const NAMES_AND_BILLING = listQuery(10, 'id name billing { id }');

/** S4's query: 100 users who all have a Stripe customer, their billing only (100 customer GETs). */
export function fanOutQuery(count: number): { operation: Operation; customers: number } {
  const ids = USER_IDS.filter((id) => CUSTOMER_OF.get(id)).slice(0, count);
  return { operation: byIdsQuery(ids, 'id billing { id }'), customers: ids.length };
}

/**
 * The fewest upstream calls a byIds query (USER_FIELDS) can cost with an empty cache: one users
 * batch per 100 distinct ids, then — Stripe having no batch retrieve — one customer GET and one
 * payments list per distinct customer.
 */
export function floorCalls(ids: readonly string[], maxBatch = 100): number {
  const distinct = [...new Set(ids)];
  const customers = new Set(distinct.map((id) => CUSTOMER_OF.get(id)).filter((c) => c));
  return Math.ceil(distinct.length / maxBatch) + 2 * customers.size;
}

/**
 * True when an answer to `byIdsQuery(ids)` came without errors but some alias `u{i}` does not hold
 * the user `ids[i]` (another user's record, or none): wrong, however fast. Answers with errors are
 * counted as errors, not here.
 */
export function silentlyWrong(ids: readonly string[], res: { status: number; json: unknown }): boolean {
  const json = res.json as { data?: Record<string, { id?: unknown } | null> | null; errors?: unknown } | null;
  if (res.status !== 200 || json?.errors !== undefined) return false;
  return ids.some((id, i) => json?.data?.[`u${i}`]?.id !== id);
}

export function body(operation: Operation): string {
  return JSON.stringify(operation);
}

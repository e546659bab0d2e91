// Issue #14, tests 1, 7 and 9: the provider budget three real replicas share through Redis, behind
// HAProxy, with Redis reached through a TCP proxy so it can be cut. Scaled down to keep the file
// short on a 2-core machine: Stripe's limit is 30/s here (not 90), the load 3x that for 6 s after a 3 s
// warm-up (not 300 req/s for 10 s), and every Stripe key is cold (customer cache TTL 0), so every request needs
// a Stripe call. Every sliding 1,000 ms window is still checked.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedUsers } from '../../src/simulators/users/seed.js';
import {
  type LoadSample,
  maxInWindow,
  metricSum,
  openLoop,
  settled,
  sleep,
  startTestCluster,
  type TestCluster,
} from '../helpers/cluster.js';
import { batchCalls } from '../helpers/harness.js';
import { watchStalls } from '../helpers/stalls.js';

const LIMIT = 30; // STRIPE_RATE_LIMIT_PER_SECOND for this file
const DURATION_MS = 6_000;
const WARMUP_MS = 3_000;

let c: TestCluster;
let admin: string;
beforeAll(async () => {
  c = await startTestCluster({
    replicas: 3,
    redisProxy: true,
    env: {
      STRIPE_RATE_LIMIT_PER_SECOND: String(LIMIT),
      STRIPE_CUSTOMER_CACHE_TTL_SECONDS: '0',
      // Requests queued behind the budget give up after 3 s rather than 10.
      OPERATION_TIMEOUT_MS: '3000',
    },
  });
  admin = await c.token('usr_0001', { admin: true });
}, 90_000);
afterAll(async () => {
  await c?.close();
}, 30_000);

// Users with a Stripe customer, in a fixed order; the last 20 are kept for the cold-user checks.
const WITH_CUSTOMER = seedUsers(1000)
  .filter((u) => u.stripe_customer_id !== null)
  .map((u) => u.user_id);
const RESERVED = WITH_CUSTOMER.slice(-20);
const LOADED = WITH_CUSTOMER.slice(0, -20);
let nextUser = 0;
const billingQuery = () => ({
  query: 'query Billing($id: ID!) { user(id: $id) { id billing { id } } }',
  variables: { id: LOADED[nextUser++ % LOADED.length] },
});

const stripeTimes = (from: number, to = Number.POSITIVE_INFINITY) =>
  c.stripe.requests.filter((r) => r.at >= from && r.at <= to).map((r) => r.at);

/** Claim 2: 3 × 30 simultaneous requests for a cold user, one replica each third: one users fetch. */
async function oneFetchForColdUser(id: string): Promise<number> {
  const fetches = () =>
    batchCalls(c.users).filter(
      (r) => r.path === `/users/${id}` || (r.query.get('ids') ?? '').split(',').includes(id),
    ).length;
  const before = fetches();
  await Promise.all(
    c.replicas.flatMap((r) =>
      Array.from({ length: 30 }, () => c.gql(r.url, `{ user(id: "${id}") { id name } }`)),
    ),
  );
  return fetches() - before;
}

describe('one provider budget across three replicas', () => {
  it(`1. cold Stripe keys at ${3 * LIMIT} req/s through 3 replicas: at most ${LIMIT} in any second, at least 80 % of the budget used, every replica serving`, async () => {
    const stalls = watchStalls();
    const t0 = Date.now();
    const samples = await openLoop({
      url: c.url,
      token: admin,
      rate: 3 * LIMIT,
      durationMs: WARMUP_MS + DURATION_MS,
      body: billingQuery,
      timeoutMs: 5_000,
    });
    await settled(() => c.stripe.requests.length);
    // The limit holds in every second from the first request; the budget's use is measured once the
    // replicas are warm (freshly started, their first seconds go to compiling, not to waiting on it).
    // The Stripe simulator records arrivals in this busy process: see watchStalls.
    expect(maxInWindow(stripeTimes(t0))).toBeLessThanOrEqual(LIMIT + stalls.slack(LIMIT));
    const measuredFrom = t0 + WARMUP_MS;
    expect(stripeTimes(measuredFrom, measuredFrom + DURATION_MS).length).toBeGreaterThanOrEqual(
      0.8 * LIMIT * (DURATION_MS / 1000),
    );
    const byReplica = new Map<string, number>();
    for (const s of samples) if (s.servedBy) byReplica.set(s.servedBy, (byReplica.get(s.servedBy) ?? 0) + 1);
    for (const r of c.replicas)
      expect(byReplica.get(r.name) ?? 0).toBeGreaterThanOrEqual(0.2 * samples.length);
  });

  it('9. the sum over replicas of junction_upstream_requests_total{provider="stripe"} equals the simulator count', async () => {
    await c.gql(c.url, `{ user(id: "${LOADED[0]}") { billing { id } } }`); // at least one call
    await settled(() => c.stripe.requests.length);
    const texts = await Promise.all(c.replicas.map((r) => c.metrics(r)));
    const sum = texts.reduce(
      (acc, t) => acc + metricSum(t, 'junction_upstream_requests_total', { provider: 'stripe' }),
      0,
    );
    expect(sum).toBeGreaterThan(0);
    // On failure, the counter's lines show which outcomes or routes differ from the simulator's.
    const lines = texts.flatMap((t) =>
      t.split('\n').filter((l) => l.startsWith('junction_upstream_requests_total{') && l.includes('stripe')),
    );
    const simRoutes: Record<string, number> = {};
    for (const r of c.stripe.requests) simRoutes[r.route ?? r.path] = (simRoutes[r.route ?? r.path] ?? 0) + 1;
    expect(sum, `${lines.join('\n')}\nsimulator: ${JSON.stringify(simRoutes)}`).toBe(
      c.stripe.requests.length,
    );
  });

  it('7. Redis cut under load: no 5xx, the limit holds in every second, /readyz 200 degraded; one fetch per cold key again within 5 s of Redis returning', async () => {
    const proxy = c.proxy!;
    const stalls = watchStalls();
    const t0 = Date.now();
    const load = openLoop({
      url: c.url,
      token: admin,
      rate: 2 * LIMIT,
      durationMs: 7_000,
      body: billingQuery,
      timeoutMs: 5_000,
    });
    await sleep(2_000);
    proxy.cut();
    await sleep(1_500);
    const ready = await Promise.all(
      c.replicas.map(async (r) => {
        const res = await fetch(`${r.url}/readyz`);
        return { status: res.status, body: (await res.json()) as { sharedState?: { redis?: string } } };
      }),
    );
    for (const r of ready) {
      expect(r.status).toBe(200);
      expect(r.body.sharedState?.redis).toBe('degraded');
    }
    await sleep(1_500);
    proxy.restore();
    const restoredAt = Date.now();
    // Claim 2 again, with a fresh cold user each try, within 5 s of Redis returning (load still on).
    let held = false;
    for (const id of RESERVED) {
      if (Date.now() - restoredAt > 5_000) break;
      if ((await oneFetchForColdUser(id)) === 1) {
        held = true;
        break;
      }
      await sleep(250);
    }
    const samples: LoadSample[] = await load;
    await settled(() => c.stripe.requests.length);
    // Times relative to the start; the cut was at about 2,000 ms, Redis back at about 5,000 ms.
    const failed = (keep: (s: LoadSample) => boolean) =>
      samples.filter(keep).map((s) => ({ status: s.status, sentAtMs: s.at - t0, servedBy: s.servedBy }));
    expect(failed((s) => s.status >= 500)).toEqual([]);
    // A request that did not answer within 5 s waited on Redis far longer than its command timeout.
    expect(failed((s) => s.status === 0)).toEqual([]);
    expect(maxInWindow(stripeTimes(t0))).toBeLessThanOrEqual(LIMIT + stalls.slack(LIMIT));
    expect(held).toBe(true);
  });
});

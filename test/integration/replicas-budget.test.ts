// Three replicas in one process over one Redis prefix share each provider's rate budget: a burst of
// cold Stripe lookups spread over them reaches Stripe at no more than its limit in any sliding second
// (each replica alone would spend the whole limit), and every replica gets its share. A 429 seen by
// one replica slows the others. Real Redis, loopback, bounded in count and time.
import { afterEach, describe, expect, it } from 'vitest';
import { SharedRateLimiter } from '../../src/upstream/policies/sharedRateLimiter.js';
import { type Harness, type Peer, startHarness, startPeer } from '../helpers/harness.js';
import { watchStalls } from '../helpers/stalls.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcpProxy.js';
import {
  deletePrefix,
  eventually,
  REDIS_TARGET,
  REDIS_URL,
  testPrefix,
} from '../unit/state/support/redis.js';

const CUSTOMER = 'GET /v1/customers/:id';
const prefixes: string[] = [];
let h: Harness | undefined;
let peers: Peer[] = [];
let proxy: TcpProxy | undefined;

afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
  for (const peer of peers) await peer.close();
  peers = [];
  await h?.close();
  h = undefined;
  for (const prefix of prefixes.splice(0)) await deletePrefix(prefix);
});

async function cluster(env: Record<string, string>, redisUrl = REDIS_URL): Promise<Harness> {
  const prefix = testPrefix();
  prefixes.push(prefix);
  h = await startHarness({ env: { REDIS_URL: redisUrl, REDIS_KEY_PREFIX: prefix, ...env } });
  peers = [await startPeer(h), await startPeer(h)];
  return h;
}

/** Most timestamps within any window of `windowMs` (sorted input). */
function maxInWindow(sorted: number[], windowMs: number): number {
  let best = 0;
  let start = 0;
  for (let end = 0; end < sorted.length; end++) {
    while ((sorted[end] as number) - (sorted[start] as number) >= windowMs) start += 1;
    best = Math.max(best, end - start + 1);
  }
  return best;
}

type App = Harness['app'];
interface Outcome {
  replica: number;
  ok: boolean;
  code?: string | undefined;
}

/** `total` lookups of customers nobody has cached, `rate` per second, round robin over `apps`. */
async function burst(apps: App[], rate: number, total: number, tag = 'burst', onTick?: (i: number) => void) {
  const started = Date.now();
  const sent: Promise<Outcome>[] = [];
  for (let i = 0; i < total; i++) {
    const wait = started + (i * 1000) / rate - Date.now();
    if (wait > 0) await sleep(wait);
    onTick?.(i);
    const replica = i % apps.length;
    sent.push(
      (apps[replica] as App).services.clients.stripe.getCustomer(`cus_${tag}_${i}`, {}).then(
        () => ({ replica, ok: true }),
        (error: { code?: string }) => ({ replica, ok: false, code: error.code }),
      ),
    );
  }
  return Promise.all(sent);
}

const stripeTimes = (harness: Harness, from: number) =>
  harness.stripe.requests
    .slice(from)
    .filter((r) => r.route === CUSTOMER)
    .map((r) => r.at)
    .sort((a, b) => a - b);

const userId = (i: number) => `usr_${String(i).padStart(4, '0')}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('replicas share the provider rate budget (REDIS_URL)', () => {
  it('a burst over 3 replicas reaches Stripe at no more than its limit (20/s) in any sliding second', async () => {
    const harness = await cluster({
      STRIPE_RATE_LIMIT_PER_SECOND: '20',
      USERS_RATE_LIMIT_PER_SECOND: '10000',
      RATE_LIMIT_MAX_WAIT_MS: '1500',
    });
    const apps = [harness.app, ...peers.map((p) => p.app)];
    for (const app of apps) {
      expect(app.services.pipelines.stripe?.limiter).toBeInstanceOf(SharedRateLimiter);
    }
    // Warm every replica (first-use costs: pools, Redis scripts) with one lookup each.
    await Promise.all(apps.map((app, r) => app.services.clients.stripe.getCustomer(`cus_warm_${r}`, {})));
    await sleep(1_000); // the bucket refills
    const before = harness.stripe.requests.length;
    const stalls = watchStalls();
    // 66 lookups/s for 3 s, each for a customer nobody has cached, round robin over the replicas:
    // 22/s per replica, above the 19/s its own bucket would grant, so unshared they would exceed it.
    const results = await burst(apps, 66, 198);
    const allowed = 20 + stalls.slack(17);
    // Refused locally (no token within the wait) or served: nothing else.
    expect(results.filter((r) => !r.ok && r.code !== 'UPSTREAM_RATE_LIMITED')).toEqual([]);
    const times = stripeTimes(harness, before);
    const durationS = (times.at(-1)! - times[0]!) / 1000;
    // Never above the limit in any sliding second, across all three replicas.
    expect(maxInWindow(times, 1000)).toBeLessThanOrEqual(allowed);
    // And the budget is spent, not wasted: at least 80 % of limit x duration reached Stripe.
    expect(times.length).toBeGreaterThanOrEqual(Math.floor(0.8 * 20 * durationS));
    // Every replica got its share of the tokens.
    const served = [0, 1, 2].map((r) => results.filter((x) => x.replica === r && x.ok).length);
    const okTotal = served.reduce((a, b) => a + b, 0);
    expect(okTotal).toBe(times.length);
    for (const count of served) expect(count).toBeGreaterThanOrEqual(0.2 * okTotal);
  }, 30_000);

  it('Redis cut during a burst: replicas fall back to their shares (limit / 3), the limit still holds, no other errors; they rejoin after', async () => {
    proxy = await startTcpProxy(REDIS_TARGET);
    const harness = await cluster(
      {
        STRIPE_RATE_LIMIT_PER_SECOND: '20',
        USERS_RATE_LIMIT_PER_SECOND: '10000',
        RATE_LIMIT_MAX_WAIT_MS: '1500',
      },
      proxy.url,
    );
    const apps = [harness.app, ...peers.map((p) => p.app)];
    await Promise.all(apps.map((app, r) => app.services.clients.stripe.getCustomer(`cus_warm_${r}`, {})));
    await sleep(1_000);
    const before = harness.stripe.requests.length;
    // 4 s at 66/s; Redis cut from 1 s to 2.5 s.
    const stalls = watchStalls();
    let during: string[] = [];
    const results = await burst(apps, 66, 264, 'cut', (i) => {
      if (i === 66) proxy?.cut();
      if (i === 150) during = apps.map((app) => app.state.health().redis);
      if (i === 165) proxy?.restore();
    });
    expect(during).toEqual(['degraded', 'degraded', 'degraded']);
    expect(results.filter((r) => !r.ok && r.code !== 'UPSTREAM_RATE_LIMITED')).toEqual([]);
    const times = stripeTimes(harness, before);
    expect(maxInWindow(times, 1000)).toBeLessThanOrEqual(20 + stalls.slack(17));
    expect(times.length).toBeGreaterThan(40); // served all along, not stopped
    // Back on the shared bucket without a restart.
    expect(await eventually(() => apps.every((app) => app.state.health().redis === 'up'), 5_000)).toBe(true);
  }, 40_000);

  it('a 429 seen by one replica slows the others (shared pause, shown on their /readyz)', async () => {
    const harness = await cluster({ RETRY_MAX_ATTEMPTS: '1' });
    const [b] = peers as [Peer, Peer];
    harness.stripe.faults.add({
      match: { route: CUSTOMER },
      status: 429,
      headers: { 'retry-after': '3' },
      times: 1,
    });
    const first = await harness.gql(`{ user(id: "${userId(1)}") { billing { id } } }`);
    expect(first.body.errors?.[0]?.extensions?.code).toBe('UPSTREAM_RATE_LIMITED');
    // Replica B never saw the 429, yet its next Stripe call waits for the pause (up to its max wait,
    // 1 s by default, then it is refused locally without calling Stripe).
    const before = harness.stripe.requests.length;
    const onB = await b.gql(`{ user(id: "${userId(2)}") { billing { id } } }`);
    expect(onB.status).toBeLessThan(500);
    expect(onB.body.errors?.[0]?.extensions?.code).toBe('UPSTREAM_RATE_LIMITED');
    expect(harness.stripe.requests.slice(before).filter((r) => r.route === CUSTOMER)).toEqual([]);
    // B's /readyz shows the shared bucket paused and slowed.
    let stripe: any;
    for (let i = 0; i < 20; i++) {
      stripe = ((await (await fetch(`${b.url}/readyz`)).json()) as any).providers.stripe;
      if (stripe.state === 'paused') break;
      await sleep(50);
    }
    expect(stripe.state).toBe('paused');
    expect(stripe.throttle.ratePerSecond).toBeLessThan(stripe.throttle.configuredRatePerSecond);
  }, 30_000);
});

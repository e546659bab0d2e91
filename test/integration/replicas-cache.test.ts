// Three replicas in one process over one Redis prefix share the response cache's second level: a
// cold key asked on every replica at once is one upstream fetch, later asks are shared hits; an
// invalidation on one replica (a mutation, a webhook) reaches the others' first level within 500 ms;
// and with Redis cut (a TCP proxy in front of it) every replica still answers from local state.
import { afterEach, describe, expect, it } from 'vitest';
import { batchCalls, type Harness, type Peer, startHarness, startPeer } from '../helpers/harness.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcpProxy.js';
import {
  deletePrefix,
  eventually,
  REDIS_TARGET,
  REDIS_URL,
  testPrefix,
} from '../unit/state/support/redis.js';

const prefixes: string[] = [];
let h: Harness | undefined;
let peers: Peer[] = [];
let proxy: TcpProxy | undefined;

afterEach(async () => {
  for (const peer of peers) await peer.close();
  peers = [];
  await h?.close();
  h = undefined;
  await proxy?.close();
  proxy = undefined;
  for (const prefix of prefixes.splice(0)) await deletePrefix(prefix);
});

async function cluster(env: Record<string, string> = {}, redisUrl = REDIS_URL): Promise<Harness> {
  const prefix = testPrefix();
  prefixes.push(prefix);
  h = await startHarness({ env: { REDIS_URL: redisUrl, REDIS_KEY_PREFIX: prefix, ...env } });
  peers = [await startPeer(h), await startPeer(h)];
  return h;
}

/** The value of one sample in Prometheus text, matched by name and (a subset of) labels. */
function sample(text: string, name: string, labels: Record<string, string>): number {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const found: Record<string, string> = {};
    for (const pair of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) found[pair[1]!] = pair[2]!;
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(m[3]);
  }
  return 0;
}

const USER = '{ user(id: "usr_0042") { id name } }';

describe('replicas share the response cache (REDIS_URL)', () => {
  it('3 x 10 concurrent requests for one cold user over 3 replicas: 1 upstream fetch; again within the TTL: 0', async () => {
    const harness = await cluster();
    const gqls = [harness.gql, ...peers.map((p) => p.gql)];
    const before = batchCalls(harness.users).length;
    const round = () => Promise.all(gqls.flatMap((gql) => Array.from({ length: 10 }, () => gql(USER))));
    const first = await round();
    expect(first.every((r) => r.body.data?.user?.id === 'usr_0042')).toBe(true);
    expect(batchCalls(harness.users).length - before).toBe(1);
    const second = await round();
    expect(second.every((r) => r.body.data?.user?.id === 'usr_0042')).toBe(true);
    expect(batchCalls(harness.users).length - before).toBe(1);
    // The two replicas that did not load found the entry in the second level, and count it.
    const sharedHits = await Promise.all(
      [harness.app, ...peers.map((p) => p.app)].map(async (app) =>
        sample(await app.metrics.text(), 'junction_cache_events_total', {
          provider: 'users',
          outcome: 'shared_hit',
        }),
      ),
    );
    expect(sharedHits.filter((n) => n > 0)).toHaveLength(2);
  }, 30_000);

  it('a payment created through A shows in payments on B and C within 500 ms (their L1 was warm)', async () => {
    const harness = await cluster();
    const [b, c] = peers as [Peer, Peer];
    const q = '{ user(id: "usr_0003") { payments(first: 100) { nodes { id } } } }';
    const ids = (res: Awaited<ReturnType<Harness['gql']>>) =>
      (res.body.data.user.payments.nodes as { id: string }[]).map((n) => n.id);
    // Warm: every replica holds the list in its first level (TTL 15 s).
    for (const gql of [harness.gql, b.gql, c.gql]) await gql(q);
    const created = await harness.gql(
      'mutation { createPayment(input: { userId: "usr_0003", amount: 1234, currency: "usd" }) { payment { id } } }',
    );
    const id = created.body.data.createPayment.payment.id as string;
    const done = Date.now();
    for (const peer of [b, c]) {
      expect(await eventually(async () => ids(await peer.gql(q)).includes(id), 500)).toBe(true);
    }
    expect(Date.now() - done).toBeLessThan(1_000);
  }, 30_000);

  it('a Stripe webhook handled by A invalidates B: the new status shows on B within 500 ms', async () => {
    const harness = await cluster();
    const [b] = peers as [Peer, Peer];
    const q = '{ user(id: "usr_0001") { payments(first: 3) { nodes { id status } } } }';
    const warm = await b.gql(q);
    const target = warm.body.data.user.payments.nodes[0].id as string;
    harness.stripe.setPaymentIntentStatus(target, 'canceled');
    await harness.stripe.flushWebhooks(); // delivered to A
    const started = Date.now();
    const seen = await eventually(async () => {
      const res = await b.gql(q);
      return (
        res.body.data.user.payments.nodes.find((n: { id: string }) => n.id === target)?.status === 'CANCELED'
      );
    }, 500);
    expect(seen).toBe(true);
    expect(Date.now() - started).toBeLessThan(1_000);
  }, 30_000);

  it('Redis cut: every replica still answers from local state (no 5xx), /readyz 200 and degraded', async () => {
    proxy = await startTcpProxy(REDIS_TARGET);
    const harness = await cluster({}, proxy.url);
    const gqls = [harness.gql, ...peers.map((p) => p.gql)];
    const query = (n: number) => `{ user(id: "usr_${String(n).padStart(4, '0')}") { id billing { id } } }`;
    expect((await gqls[0]!(query(10))).body.data.user.id).toBe('usr_0010');
    proxy.cut();
    const answers = await Promise.all(
      gqls.flatMap((gql, r) => [1, 2, 3].map((i) => gql(query(20 + r * 3 + i)))),
    );
    answers.forEach((res, i) => {
      expect(res.status).toBe(200);
      expect(res.body.errors).toBeUndefined();
      expect(res.body.data.user.id).toBe(`usr_${String(21 + i).padStart(4, '0')}`);
    });
    // Cached on this replica before the cut: still served.
    expect((await gqls[0]!(query(10))).body.data.user.id).toBe('usr_0010');
    const ready = await fetch(`${harness.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as { sharedState: { redis: string } }).sharedState.redis).toBe('degraded');
    proxy.restore();
    expect(await eventually(() => harness.app.state.health().redis === 'up', 5_000)).toBe(true);
    expect((await gqls[1]!(query(40))).body.data.user.id).toBe('usr_0040');
  }, 30_000);
});

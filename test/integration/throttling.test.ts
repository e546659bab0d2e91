// A provider's headers can slow Junction, never stop it: Retry-After and reset headers in every unit,
// on errors too, bounded by RATE_LIMIT_MAX_PAUSE_MS; /readyz and /metrics show the pause; /readyz
// shows codes and times, never an upstream message.
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logger.js';
import { providerModules } from '../../src/providers/registry.js';
import { batchCalls, type Harness, startHarness, USER_FETCHES } from '../helpers/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const CUSTOMER = 'GET /v1/customers/:id';

/** The value of one sample in Prometheus text, matched by name and (a subset of) labels. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const found: Record<string, string> = {};
    for (const pair of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) found[pair[1]!] = pair[2]!;
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(m[3]);
  }
  return undefined;
}

async function readyz(harness: Harness): Promise<{ status: string; providers: Record<string, any> }> {
  return (await fetch(`${harness.url}/readyz`)).json() as Promise<any>;
}

/** Polls /readyz until `provider` is no longer paused; fails after `limitMs`. */
async function untilResumed(harness: Harness, provider: string, limitMs = 5_000): Promise<void> {
  const started = Date.now();
  while ((await readyz(harness)).providers[provider].state === 'paused') {
    if (Date.now() - started > limitMs) throw new Error(`${provider} still paused after ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function logSink() {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { logger: createLogger('info', sink), lines };
}

describe('provider headers slow Junction, never stop it', () => {
  it('a 429 with Retry-After: 86400 pauses Stripe for at most 60 s; nothing is sent meanwhile; /readyz and /metrics show it', async () => {
    h = await startHarness({ env: { RETRY_MAX_ATTEMPTS: '1' } });
    await h.gql('{ me { id } }');
    h.stripe.faults.add({
      match: { route: CUSTOMER },
      status: 429,
      headers: { 'retry-after': '86400' },
      times: 1,
    });
    const first = await h.gql('{ me { billing { id } } }');
    expect(first.body.errors![0].extensions).toMatchObject({
      code: 'UPSTREAM_RATE_LIMITED',
      provider: 'stripe',
      upstreamStatus: 429,
      retryAfter: 60, // what Junction will honour, not the day Stripe asked for
    });

    const stripe = (await readyz(h)).providers.stripe;
    expect(stripe.state).toBe('paused');
    expect(stripe.throttle.pauseRemainingMs).toBeGreaterThan(50_000);
    expect(stripe.throttle.pauseRemainingMs).toBeLessThanOrEqual(60_000);
    expect(Date.parse(stripe.throttle.pausedUntil) - Date.now()).toBeLessThanOrEqual(60_000);
    expect(stripe.throttle.ratePerSecond).toBeLessThan(stripe.throttle.configuredRatePerSecond);
    expect((await readyz(h)).providers.users.state).toBe('ok');

    const metrics = await (await fetch(`${h.url}/metrics`)).text();
    const pause = sample(metrics, 'junction_upstream_throttle_pause_seconds', { provider: 'stripe' });
    expect(pause).toBeGreaterThan(50);
    expect(pause).toBeLessThanOrEqual(60);
    expect(sample(metrics, 'junction_upstream_throttle_pause_seconds', { provider: 'users' })).toBe(0);
    expect(sample(metrics, 'junction_upstream_throttle_rate_ratio', { provider: 'stripe' })).toBeCloseTo(
      0.5,
      2,
    );
    expect(
      sample(metrics, 'junction_upstream_pause_clamped_total', { provider: 'stripe', header: 'retry-after' }),
    ).toBe(1);

    // While paused, calls fail fast without reaching Stripe, and say when to come back.
    const before = h.stripe.count({ route: CUSTOMER });
    const second = await h.gql('{ me { id billing { id } } }');
    expect(second.body.data.me.id).toBe('usr_0001');
    expect(second.body.errors![0].extensions).toMatchObject({
      code: 'UPSTREAM_RATE_LIMITED',
      provider: 'stripe',
    });
    // The rest of the pause plus one token at the halved rate, in whole seconds: not a day.
    expect(second.body.errors![0].extensions.retryAfter).toBeLessThanOrEqual(61);
    expect(h.stripe.count({ route: CUSTOMER })).toBe(before);
  });

  it('resumes calls once the cap (RATE_LIMIT_MAX_PAUSE_MS) has passed, and logs the clamp once per provider', async () => {
    const { logger, lines } = logSink();
    h = await startHarness({ logger, env: { RETRY_MAX_ATTEMPTS: '1', RATE_LIMIT_MAX_PAUSE_MS: '300' } });
    await h.gql('{ me { id } }');
    h.stripe.faults.add({
      match: { route: CUSTOMER },
      status: 429,
      headers: { 'retry-after': '86400' },
      times: 2,
    });
    for (let i = 0; i < 2; i += 1) {
      const throttled = await h.gql('{ me { billing { id } } }');
      expect(throttled.body.errors![0].extensions).toMatchObject({
        code: 'UPSTREAM_RATE_LIMITED',
        retryAfter: 1,
      });
      await untilResumed(h, 'stripe');
    }
    const res = await h.gql('{ me { billing { id } } }');
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data.me.billing.id).toMatch(/^cus_/);
    expect(h.stripe.count({ route: CUSTOMER })).toBe(3);

    const clamped = lines.map((l) => JSON.parse(l)).filter((l) => /clamped/.test(l.msg));
    expect(clamped).toHaveLength(1);
    expect(clamped[0]).toMatchObject({ level: 40, provider: 'stripe', header: 'retry-after', pauseMs: 300 });
    expect(JSON.stringify(clamped[0])).not.toContain('86400');
    const metrics = await (await fetch(`${h.url}/metrics`)).text();
    expect(
      sample(metrics, 'junction_upstream_pause_clamped_total', { provider: 'stripe', header: 'retry-after' }),
    ).toBe(2);
  });

  it('reads rate-limit headers on error answers: a 429 with an epoch-ms X-RateLimit-Reset pauses for that long, not 57,000 years', async () => {
    h = await startHarness({ env: { RETRY_MAX_ATTEMPTS: '1' } });
    await h.gql('{ users(first: 1) { nodes { id } } }'); // token fetched, nothing of usr_0005 cached
    h.users.faults.add({
      match: USER_FETCHES,
      status: 429,
      headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(Date.now() + 1_500) },
      times: 1,
    });
    const throttled = await h.gql('{ user(id: "usr_0005") { id } }');
    expect(throttled.body.errors![0].extensions).toMatchObject({
      code: 'UPSTREAM_RATE_LIMITED',
      retryAfter: 2,
    });
    const users = (await readyz(h)).providers.users;
    expect(users.state).toBe('paused');
    expect(users.throttle.pauseRemainingMs).toBeGreaterThan(0);
    expect(users.throttle.pauseRemainingMs).toBeLessThanOrEqual(1_500);
    const metrics = await (await fetch(`${h.url}/metrics`)).text();
    expect(sample(metrics, 'junction_upstream_pause_clamped_total', { provider: 'users' })).toBeUndefined();

    await untilResumed(h, 'users');
    const res = await h.gql('{ user(id: "usr_0005") { id } }');
    expect(res.body.data.user.id).toBe('usr_0005');
    expect(batchCalls(h.users)).toHaveLength(2);
  });

  it('maps a 429 from the users token endpoint to UPSTREAM_RATE_LIMITED, its Retry-After bounded', async () => {
    h = await startHarness();
    h.users.faults.add({
      match: { route: 'POST /oauth/token' },
      status: 429,
      headers: { 'retry-after': '86400' },
    });
    const res = await h.gql('{ user(id: "usr_0005") { id } }');
    expect(res.body.data.user).toBeNull();
    expect(res.body.errors![0].extensions).toMatchObject({
      code: 'UPSTREAM_RATE_LIMITED',
      provider: 'users',
      upstreamStatus: 429,
      retryAfter: 60,
    });
    expect(batchCalls(h.users)).toHaveLength(0);
  });
});

describe('/readyz', () => {
  it('shows per provider state, circuits, last success and the last error’s code, status and time: never a message or an idempotency key', async () => {
    h = await startHarness();
    const ok = await h.gql('{ me { id billing { id } } }');
    expect(ok.body.errors).toBeUndefined();
    const declined = await h.gql(
      'mutation { createPayment(input: { userId: "usr_0001", amount: 900, currency: "usd", idempotencyKey: "order-7f3a9", paymentMethod: "pm_card_chargeDeclinedInsufficientFunds" }) { payment { id } } }',
    );
    const declineMessage = declined.body.errors![0].message as string;
    expect(declined.body.errors![0].extensions.code).toBe('PAYMENT_DECLINED');
    // The same key with other parameters: Stripe's answer quotes the key.
    const reused = await h.gql(
      'mutation { createPayment(input: { userId: "usr_0001", amount: 901, currency: "usd", idempotencyKey: "order-7f3a9" }) { payment { id } } }',
    );
    expect(reused.body.errors![0].extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'idempotencyKey',
    });
    const sentKey = h.stripe.requests.find((r) => r.method === 'POST')!.headers['idempotency-key'] as string;
    expect(reused.body.errors![0].message).toContain(sentKey);

    const res = await fetch(`${h.url}/readyz`);
    const text = await res.text();
    expect(res.status).toBe(200);
    for (const leak of [declineMessage, 'insufficient funds', 'order-7f3a9', sentKey, 'message']) {
      expect(text, `readyz shows ${leak}`).not.toContain(leak);
    }
    const body = JSON.parse(text);
    expect(body.status).toBe('ready');
    const iso = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(body.providers.stripe).toEqual({
      provider: 'stripe',
      mode: 'remote',
      state: 'ok', // a declined card or a reused key says nothing about Stripe's health
      circuit: 'closed',
      circuits: { stripe: 'closed', 'stripe:writes': 'closed' },
      lastSuccessAt: iso,
      lastError: { code: 'BAD_USER_INPUT', status: 400, at: iso },
      // 90/s less the 10 % burst and the 5 % headroom (services.ts bucketFor)
      throttle: {
        ratePerSecond: 76.5,
        configuredRatePerSecond: 76.5,
        pausedUntil: null,
        pauseRemainingMs: 0,
      },
    });
    expect(body.providers.users).toMatchObject({ state: 'ok', lastError: null, lastSuccessAt: iso });
    expect(Object.keys(body.providers).sort()).toEqual(providerModules.map((m) => m.name).sort());
  });
});

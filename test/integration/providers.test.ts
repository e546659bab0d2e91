// Stripe, Twilio and SendGrid behind one schema: field translation, paging, mutations, error
// mapping and the N+1 cost, asserted from the simulators' own counters.
import { afterEach, describe, expect, it } from 'vitest';
import { type Harness, startHarness } from '../helpers/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const stripeCalls = (harness: Harness, route: string) =>
  harness.stripe.requests.filter((r) => r.route === route).length;

describe('billing (Stripe)', () => {
  it('shows billing and payments as internal types: Money in minor units, enum statuses, ISO times', async () => {
    h = await startHarness();
    const res = await h.gql(
      '{ me { billing { id email balance { amount currency } createdAt } payments(first: 5) { nodes { id amount { amount currency } status createdAt } } } }',
    );
    expect(res.body.errors).toBeUndefined();
    const me = res.body.data.me;
    expect(me.billing.id).toMatch(/^cus_/);
    expect(me.billing.balance).toEqual({
      amount: expect.any(Number),
      currency: expect.stringMatching(/^[a-z]{3}$/),
    });
    for (const p of me.payments.nodes) {
      expect(Number.isInteger(p.amount.amount)).toBe(true);
      expect(p.status).toMatch(/^[A-Z_]+$/);
      expect(p.createdAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    }
  });

  it('costs one users call plus at most one Stripe call per distinct customer per field, and zero when warm', async () => {
    // ~70 Stripe calls at once: the subject is their number, not Junction's own Stripe rate limit
    // (at 90/s they would wait close to RATE_LIMIT_MAX_WAIT_MS on a loaded machine).
    h = await startHarness({ env: { STRIPE_RATE_LIMIT_PER_SECOND: '10000' } });
    const query = '{ users(first: 50) { nodes { id billing { id } payments(first: 3) { nodes { id } } } } }';
    const cold = await h.gql(query);
    expect(cold.body.errors).toBeUndefined();
    const nodes = cold.body.data.users.nodes as Array<{ billing: { id: string } | null }>;
    expect(nodes).toHaveLength(50);
    const customers = new Set(nodes.filter((n) => n.billing).map((n) => n.billing!.id));
    expect(customers.size).toBeGreaterThan(30);
    expect(h.users.count({ route: 'GET /users' })).toBe(1);
    expect(stripeCalls(h, 'GET /v1/customers/:id')).toBe(customers.size);
    expect(stripeCalls(h, 'GET /v1/payment_intents')).toBe(customers.size);
    expect(h.app.services.pipelines.stripe!.concurrency.limit).toBeLessThanOrEqual(32);

    const usersBefore = h.users.requests.length;
    const stripeBefore = h.stripe.requests.length;
    const warm = await h.gql(query);
    expect(warm.body).toEqual(cold.body);
    expect(h.users.requests.length - usersBefore).toBe(0);
    expect(h.stripe.requests.length - stripeBefore).toBe(0);
  });

  it('pages through 250 PaymentIntents with first/after, each exactly once', async () => {
    h = await startHarness();
    const me = (await h.gql('{ me { billing { id } } }')).body.data.me;
    const customer = me.billing.id as string;
    for (let i = 0; i < 250; i += 1) {
      const res = await fetch(`${h.stripe.url}/v1/payment_intents`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${h.stripe.secretKey}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ amount: String(100 + i), currency: 'usd', customer }).toString(),
      });
      expect(res.status).toBe(200);
    }
    const expected = [...h.stripe.paymentIntents.values()]
      .filter((p) => p.customer === customer)
      .map((p) => p.id);
    expect(expected.length).toBeGreaterThanOrEqual(250);
    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 20; page += 1) {
      const res: Awaited<ReturnType<Harness['gql']>> = await h.gql(
        'query($after: String) { me { payments(first: 40, after: $after) { nodes { id } pageInfo { hasNextPage endCursor } } } }',
        { variables: { after } },
      );
      const conn = res.body.data.me.payments;
      seen.push(...conn.nodes.map((n: { id: string }) => n.id));
      if (!conn.pageInfo.hasNextPage) break;
      after = conn.pageInfo.endCursor;
    }
    expect(seen).toHaveLength(expected.length);
    expect(new Set(seen)).toEqual(new Set(expected));
  });

  it('createPayment retried after a connection reset creates exactly one PaymentIntent', async () => {
    h = await startHarness({ env: { RETRY_BASE_DELAY_MS: '5' } });
    h.stripe.faults.add({ match: { route: 'POST /v1/payment_intents' }, reset: 'after-headers', times: 1 });
    const res = await h.gql(
      'mutation { createPayment(input: { userId: "usr_0001", amount: 2500, currency: "usd" }) { payment { id status amount { amount currency } } } }',
    );
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data.createPayment.payment).toMatchObject({
      status: 'SUCCEEDED',
      amount: { amount: 2500, currency: 'usd' },
    });
    const posts = h.stripe.requests.filter((r) => r.route === 'POST /v1/payment_intents');
    expect(posts).toHaveLength(2);
    expect(posts[0]!.headers['idempotency-key']).toBe(posts[1]!.headers['idempotency-key']);
    expect(posts[0]!.headers['stripe-version']).toBeDefined();
    expect(h.stripe.createdCount('payment_intent')).toBe(1);
  });

  it('reuses a client idempotency key: the same payment, created once', async () => {
    h = await startHarness();
    const mutation =
      'mutation { createPayment(input: { userId: "usr_0001", amount: 700, currency: "eur", idempotencyKey: "order-42" }) { payment { id } } }';
    const a = await h.gql(mutation);
    const b = await h.gql(mutation);
    expect(a.body.data.createPayment.payment.id).toBe(b.body.data.createPayment.payment.id);
    expect(h.stripe.createdCount('payment_intent')).toBe(1);
  });

  it('maps a declined card to PAYMENT_DECLINED with its decline code', async () => {
    h = await startHarness();
    const res = await h.gql(
      'mutation { createPayment(input: { userId: "usr_0001", amount: 900, currency: "usd", paymentMethod: "pm_card_chargeDeclinedInsufficientFunds" }) { payment { id } } }',
    );
    expect(res.body.data.createPayment).toBeNull();
    expect(res.body.errors![0].extensions).toMatchObject({
      code: 'PAYMENT_DECLINED',
      provider: 'stripe',
      upstreamCode: 'card_declined',
      declineCode: 'insufficient_funds',
      retryable: false,
      upstreamStatus: 402,
    });
  });

  it('refuses bad input before calling Stripe, and another user’s payment with FORBIDDEN', async () => {
    h = await startHarness();
    const bad = await h.gql(
      'mutation { createPayment(input: { userId: "usr_0001", amount: -5, currency: "dollars" }) { payment { id } } }',
    );
    expect(bad.body.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'amount' });
    const alice = await h.token('usr_0003');
    const forbidden = await h.gql(
      'mutation { createPayment(input: { userId: "usr_0004", amount: 500, currency: "usd" }) { payment { id } } }',
      { token: alice },
    );
    expect(forbidden.body.errors![0].extensions.code).toBe('FORBIDDEN');
    expect(h.stripe.requests.filter((r) => r.method === 'POST')).toHaveLength(0);
  });

  it('reports UPSTREAM_TIMEOUT when the operation deadline cuts a Stripe call, and still answers the rest', async () => {
    h = await startHarness({ env: { OPERATION_TIMEOUT_MS: '400' } });
    h.stripe.faults.add({ match: { path: /^\/v1\// }, latencyMs: 3_000 });
    const started = Date.now();
    const res = await h.gql('{ me { id billing { id } } }');
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(res.body.data.me).toEqual({ id: 'usr_0001', billing: null });
    expect(res.body.errors![0].extensions).toMatchObject({ code: 'UPSTREAM_TIMEOUT', provider: 'stripe' });
  });

  it('obeys Stripe-Should-Retry: false on an HTML 503 from a proxy: one call, not retryable', async () => {
    h = await startHarness({ env: { RETRY_BASE_DELAY_MS: '5', RETRY_MAX_DELAY_MS: '20' } });
    await h.gql('{ me { id } }');
    h.stripe.faults.add({
      match: { route: 'GET /v1/customers/:id' },
      status: 503,
      body: '<html><body><h1>503 Service Unavailable</h1></body></html>',
      headers: { 'content-type': 'text/html', 'stripe-should-retry': 'false' },
    });
    const res = await h.gql('{ me { billing { id } } }');
    expect(res.body.errors![0].extensions).toMatchObject({
      code: 'UPSTREAM_UNAVAILABLE',
      provider: 'stripe',
      upstreamStatus: 503,
      retryable: false,
    });
    expect(stripeCalls(h, 'GET /v1/customers/:id')).toBe(1);
  });

  it('obeys Stripe-Should-Retry: true on an HTML 400: retried, then answered', async () => {
    h = await startHarness({ env: { RETRY_BASE_DELAY_MS: '5', RETRY_MAX_DELAY_MS: '20' } });
    await h.gql('{ me { id } }');
    h.stripe.faults.add({
      match: { route: 'GET /v1/customers/:id' },
      status: 400,
      body: '<html><body>Bad Request</body></html>',
      headers: { 'content-type': 'text/html', 'stripe-should-retry': 'true' },
      times: 1,
    });
    const res = await h.gql('{ me { billing { id } } }');
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data.me.billing.id).toMatch(/^cus_/);
    expect(stripeCalls(h, 'GET /v1/customers/:id')).toBe(2);
  });

  it('keeps the rest of the response when Stripe fails (partial data)', async () => {
    h = await startHarness({ env: { RETRY_MAX_ATTEMPTS: '1' } });
    h.stripe.faults.add({ match: { path: /^\/v1\// }, status: 500 });
    const res = await h.gql('{ me { id name billing { id } } }');
    expect(res.body.data.me).toMatchObject({ id: 'usr_0001', name: expect.any(String), billing: null });
    expect(res.body.errors![0]).toMatchObject({
      path: ['me', 'billing'],
      extensions: { code: 'UPSTREAM_UNAVAILABLE', provider: 'stripe' },
    });
    expect(res.text).not.toContain(h.stripe.secretKey);
  });
});

describe('messages (Twilio)', () => {
  it('lists the user’s SMS newest first as a connection, pages by next_page_uri', async () => {
    h = await startHarness();
    const phone = (await h.gql('{ me { phone } }')).body.data.me.phone as string;
    for (let i = 0; i < 7; i += 1) {
      await h.gql(
        `mutation { sendSms(input: { userId: "usr_0001", body: "hello ${i}" }) { message { id } } }`,
      );
    }
    const all = [...h.twilio.messages.values()].filter((m) => m.to === phone).map((m) => m.sid);
    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 10; page += 1) {
      const res: Awaited<ReturnType<Harness['gql']>> = await h.gql(
        'query($after: String) { me { messages(first: 3, after: $after) { nodes { id to status body segments createdAt } pageInfo { hasNextPage endCursor } } } }',
        { variables: { after } },
      );
      expect(res.body.errors).toBeUndefined();
      const conn = res.body.data.me.messages;
      for (const n of conn.nodes) expect(n.to).toBe(phone);
      seen.push(...conn.nodes.map((n: { id: string }) => n.id));
      if (!conn.pageInfo.hasNextPage) break;
      after = conn.pageInfo.endCursor;
    }
    expect(seen).toHaveLength(all.length);
    expect(new Set(seen)).toEqual(new Set(all));
    const listCalls = h.twilio.requests.filter(
      (r) => r.route?.startsWith('GET') && r.path.endsWith('/Messages.json'),
    );
    expect(listCalls.some((r) => r.query.has('PageToken'))).toBe(true);
  });

  it('sendSms uses Basic auth, a form body and a StatusCallback to /webhooks/twilio', async () => {
    h = await startHarness();
    const res = await h.gql(
      'mutation { sendSms(input: { userId: "usr_0002", body: "Your code is 1234" }) { message { id status to body } } }',
    );
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data.sendSms.message).toMatchObject({ status: 'QUEUED', body: 'Your code is 1234' });
    const post = h.twilio.requests.find((r) => r.method === 'POST')!;
    expect(post.headers.authorization).toMatch(/^Basic /);
    expect(post.headers['content-type']).toContain('application/x-www-form-urlencoded');
    const form = new URLSearchParams(post.body);
    expect(form.get('StatusCallback')).toBe(`${h.url}/webhooks/twilio?userId=usr_0002`);
  });

  it('never retries sendSms (a POST without an idempotency key) after a connection reset', async () => {
    h = await startHarness({ env: { RETRY_BASE_DELAY_MS: '5' } });
    h.twilio.faults.add({ match: { method: 'POST' }, reset: 'before-response', times: 1 });
    const res = await h.gql(
      'mutation { sendSms(input: { userId: "usr_0002", body: "once" }) { message { id } } }',
    );
    expect(res.body.errors![0].extensions).toMatchObject({
      code: 'UPSTREAM_UNAVAILABLE',
      provider: 'twilio',
    });
    expect(h.twilio.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
  });

  it('maps an invalid number (Twilio 21211) to BAD_USER_INPUT', async () => {
    h = await startHarness();
    h.users.users.get('usr_0005')!.phone_number = '12345';
    const res = await h.gql(
      'mutation { sendSms(input: { userId: "usr_0005", body: "hi" }) { message { id } } }',
    );
    expect(res.body.data.sendSms).toBeNull();
    expect(res.body.errors![0].extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      provider: 'twilio',
      upstreamCode: '21211',
      field: 'to',
    });
  });
});

describe('email (SendGrid)', () => {
  it('returns the 202 X-Message-Id as the receipt id', async () => {
    h = await startHarness();
    const res = await h.gql(
      'mutation { sendEmail(input: { userId: "usr_0007", subject: "Welcome", text: "Hi", html: "<p>Hi</p>" }) { receipt { id to acceptedAt } } }',
    );
    expect(res.body.errors).toBeUndefined();
    expect(h.sendgrid.sent).toHaveLength(1);
    expect(res.body.data.sendEmail.receipt.id).toBe(h.sendgrid.sent[0]!.messageId);
    expect(res.body.data.sendEmail.receipt.to).toBe(h.users.users.get('usr_0007')!.email_address);
  });

  it('lets only admins send to a raw address', async () => {
    h = await startHarness();
    const user = await h.token('usr_0008');
    const res = await h.gql(
      'mutation { sendEmail(input: { to: "someone@example.com", subject: "x", text: "y" }) { receipt { id } } }',
      { token: user },
    );
    expect(res.body.errors![0].extensions.code).toBe('FORBIDDEN');
    expect(h.sendgrid.sent).toHaveLength(0);
    const admin = await h.gql(
      'mutation { sendEmail(input: { to: "someone@example.com", subject: "x", text: "y" }) { receipt { to } } }',
    );
    expect(admin.body.data.sendEmail.receipt.to).toBe('someone@example.com');
  });

  it('maps SendGrid errors[] to BAD_USER_INPUT naming the field', async () => {
    h = await startHarness();
    h.sendgrid.faults.add({
      match: { route: 'POST /v3/mail/send' },
      status: 400,
      body: {
        errors: [
          {
            message: 'Does not contain a valid address.',
            field: 'personalizations.0.to.0.email',
            help: null,
          },
        ],
      },
    });
    const res = await h.gql(
      'mutation { sendEmail(input: { to: "odd@example.com", subject: "x", text: "y" }) { receipt { id } } }',
    );
    expect(res.body.errors![0].extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      provider: 'sendgrid',
      field: 'to',
    });
    expect(res.body.errors![0].message).toBe('Does not contain a valid address.');
  });
});

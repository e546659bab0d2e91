// Holds the Stripe simulator's objects against Stripe's own published examples (fixtures3.json):
// the same field names, with the same JSON types, at the top level and one level down.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StripeSimulator } from '../../src/simulators/stripe/simulator.js';
import { createStripeSimulator } from '../../src/simulators/stripe/simulator.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const fixtures = JSON.parse(
  readFileSync(new URL('../../../shared/providers/stripe/fixtures3.json', import.meta.url), 'utf8'),
) as { resources: Record<string, JsonObject> };

/**
 * Nested objects whose published example is abbreviated (Stripe's example `last_payment_error` is just
 * `{type}`, `next_action` just `{type}`): there the fixture's keys must be present, more are allowed.
 */
const ABBREVIATED_IN_FIXTURE = new Set(['last_payment_error', 'next_action']);

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/**
 * Differences between `actual` and the published `fixture`: missing or extra keys, and keys whose
 * JSON types differ. Null on either side is compatible (Stripe examples fill optional objects, real
 * answers often carry null). Nested objects are compared one level down; an empty `{}` in the
 * fixture is a free-form map (metadata, payment_method_options, shipping).
 */
function shapeDifferences(fixture: JsonObject, actual: JsonObject, parent?: string): string[] {
  const problems: string[] = [];
  const path = parent === undefined ? '' : `${parent}.`;
  const fixtureKeys = new Set(Object.keys(fixture));
  const actualKeys = new Set(Object.keys(actual));
  const subsetOnly = parent !== undefined && ABBREVIATED_IN_FIXTURE.has(parent);
  for (const key of fixtureKeys) if (!actualKeys.has(key)) problems.push(`missing ${path}${key}`);
  if (!subsetOnly)
    for (const key of actualKeys) if (!fixtureKeys.has(key)) problems.push(`extra ${path}${key}`);
  for (const key of fixtureKeys) {
    if (!actualKeys.has(key)) continue;
    const expected = fixture[key];
    const got = actual[key];
    const [te, ta] = [jsonType(expected), jsonType(got)];
    if (te === 'null' || ta === 'null') continue;
    if (te !== ta) {
      problems.push(`${path}${key}: fixture ${te}, simulator ${ta}`);
    } else if (te === 'object' && parent === undefined) {
      const nested = expected as JsonObject;
      if (Object.keys(nested).length > 0) problems.push(...shapeDifferences(nested, got as JsonObject, key));
    }
  }
  return problems;
}

let sim: StripeSimulator;
let base: string;

async function post(path: string, form: string): Promise<{ status: number; body: JsonObject }> {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${sim.secretKey}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: form,
  });
  return { status: res.status, body: (await res.json()) as JsonObject };
}

async function get(path: string): Promise<JsonObject> {
  const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${sim.secretKey}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as JsonObject;
}

beforeAll(async () => {
  sim = createStripeSimulator({ seedUsers: 200 });
  base = await sim.start();
});

afterAll(async () => {
  await sim.close();
});

describe('Stripe fixtures3.json contract', () => {
  const customerFixture = fixtures.resources.customer as JsonObject;
  const paymentIntentFixture = fixtures.resources.payment_intent as JsonObject;

  it('the comparison itself catches a renamed field and a changed type', () => {
    const renamed: JsonObject = { ...customerFixture, e_mail: null };
    delete renamed.email;
    expect(shapeDifferences(customerFixture, renamed)).toEqual(['missing email', 'extra e_mail']);
    expect(shapeDifferences(customerFixture, { ...customerFixture, balance: '0' })).toEqual([
      'balance: fixture number, simulator string',
    ]);
    const settings = customerFixture.invoice_settings as JsonObject;
    expect(
      shapeDifferences(customerFixture, {
        ...customerFixture,
        invoice_settings: { ...settings, footer: 1, x: 2 },
      }),
    ).toEqual(['extra invoice_settings.x']);
  });

  it('customer: seeded and created customers have the fixture’s keys and JSON types', async () => {
    const seeded = await get(`/v1/customers/${[...sim.customers.keys()][0]}`);
    const created = await post('/v1/customers', 'email=c%40example.com&name=Contract&metadata[k]=v');
    expect(created.status).toBe(200);
    for (const customer of [seeded, created.body]) {
      expect(shapeDifferences(customerFixture, customer)).toEqual([]);
    }
  });

  it('payment_intent: every status the simulator produces has the fixture’s keys and JSON types', async () => {
    const samples: JsonObject[] = [];
    const byStatus = new Map<string, string>();
    for (const pi of sim.paymentIntents.values())
      if (!byStatus.has(pi.status)) byStatus.set(pi.status, pi.id);
    for (const id of byStatus.values()) samples.push(await get(`/v1/payment_intents/${id}`));
    samples.push((await post('/v1/payment_intents', 'amount=1000&currency=usd')).body);
    samples.push(
      (await post('/v1/payment_intents', 'amount=1000&currency=usd&payment_method_types[]=card')).body,
    );
    samples.push((await post('/v1/payment_intents', 'amount=1000&currency=usd&confirm=true')).body);
    const declined = await post(
      '/v1/payment_intents',
      'amount=1000&currency=usd&payment_method=pm_card_chargeDeclined&confirm=true',
    );
    expect(declined.status).toBe(402);
    samples.push((declined.body.error as JsonObject).payment_intent as JsonObject);
    const [firstId] = sim.paymentIntents.keys();
    sim.setPaymentIntentStatus(firstId ?? '', 'requires_action');
    samples.push(await get(`/v1/payment_intents/${firstId}`));

    const statuses = new Set(samples.map((s) => s.status));
    expect(statuses.size).toBeGreaterThanOrEqual(6);
    for (const pi of samples)
      expect(shapeDifferences(paymentIntentFixture, pi), String(pi.status)).toEqual([]);
  });

  it('event: recorded events have the fixture’s envelope keys and types', () => {
    expect(sim.events.length).toBeGreaterThan(0);
    const eventFixture = fixtures.resources.event as JsonObject;
    for (const event of sim.events) {
      const json = JSON.parse(JSON.stringify(event)) as JsonObject;
      expect(shapeDifferences(eventFixture, json), event.type).toEqual([]);
    }
  });
});

// Shared work carries nobody's cancellation: two operations wait on one coalesced provider load, the
// first client disconnects, and the second still gets its data, with the call in its upstream
// report; the provider saw exactly one request. One test per provider with shared reads.
import { afterEach, describe, expect, it } from 'vitest';
import type { Simulator } from '../../src/simulators/shared/simulator.js';
import { type Harness, startHarness } from '../helpers/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function until(what: string, condition: () => boolean, limitMs = 5_000): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > limitMs) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Runs `query` twice against a load held open by a latency fault on `route`: the first operation
 * starts the load and is then abandoned by its client (the HTTP request is aborted), the second
 * joined the same load and must get `check`ed data and see the call in its upstream report.
 */
async function abandonOneOfTwo(
  harness: Harness,
  options: {
    sim: Simulator;
    /** The simulator's route name. */
    route: string;
    /** Junction's route template for the call, as the report shows it. Default: `route`. */
    reportRoute?: string;
    /** The status the shared call answers. Default 200. */
    status?: number;
    query: string;
    check: (data: any) => void;
  },
) {
  const { sim, route, query } = options;
  const token = await harness.adminToken();
  const request = (headers: Record<string, string>, signal?: AbortSignal) =>
    fetch(`${harness.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...headers },
      body: JSON.stringify({ query }),
      signal,
    });
  sim.faults.add({ match: { route }, latencyMs: 2_000 });
  const before = sim.count({ route });
  const abandoned = new AbortController();
  const first = request({}, abandoned.signal).catch((error: unknown) => error);
  await until('the provider has the shared request', () => sim.count({ route }) === before + 1);
  const second = request({ 'x-junction-upstream-report': '1' });
  await until('both operations wait on the load', () => harness.app.cache.stats().waiting === 2);

  abandoned.abort();
  expect(await first).toMatchObject({ name: 'AbortError' });
  // The first waiter gives up at once; the load runs on for the second.
  await until('the abandoned operation stopped waiting', () => harness.app.cache.stats().waiting === 1);
  expect(harness.app.cache.stats().loading).toBe(1);

  const res = await second;
  const body = (await res.json()) as { data: any; errors?: unknown[]; extensions: any };
  expect(body.errors).toBeUndefined();
  options.check(body.data);
  const calls = body.extensions.upstream.calls as Array<{ route: string; status: number; outcome: string }>;
  const reportRoute = options.reportRoute ?? route;
  expect(calls.filter((c) => c.route === reportRoute)).toEqual([
    expect.objectContaining({ route: reportRoute, status: options.status ?? 200, outcome: 'success' }),
  ]);
  expect(sim.count({ route })).toBe(before + 1);
  expect(harness.app.cache.stats()).toMatchObject({ loading: 0, waiting: 0 });
}

describe('a coalesced load outlives the client that started it', () => {
  it('users: the batch runs on; the second operation gets the user and sees the call', async () => {
    h = await startHarness();
    await h.gql('{ users(first: 1) { nodes { id } } }'); // the token, out of the way
    await abandonOneOfTwo(h, {
      sim: h.users,
      route: 'GET /users/:id',
      query: '{ user(id: "usr_0042") { id name } }',
      check: (data) => expect(data.user.id).toBe('usr_0042'),
    });
  });

  it('Stripe: the customer load runs on; the second operation gets billing and sees the call', async () => {
    h = await startHarness();
    await h.gql('{ me { id } }'); // users cached: only the Stripe load is shared
    await abandonOneOfTwo(h, {
      sim: h.stripe,
      route: 'GET /v1/customers/:id',
      query: '{ me { billing { id } } }',
      check: (data) => expect(data.me.billing.id).toMatch(/^cus_/),
    });
  });

  it('Twilio: the message list runs on; the second operation gets the messages and sees the call', async () => {
    h = await startHarness();
    await h.gql('{ me { id } }');
    await abandonOneOfTwo(h, {
      sim: h.twilio,
      route: 'GET /2010-04-01/Accounts/:AccountSid/Messages.json',
      reportRoute: 'GET /Accounts/:sid/Messages.json',
      query: '{ me { messages(first: 3) { nodes { id } } } }',
      check: (data) => expect(data.me.messages.nodes.length).toBeGreaterThan(0),
    });
  });

  it('users: a revalidation by ETag runs on too (it used to carry the first caller’s signal)', async () => {
    h = await startHarness({
      env: { USERS_CACHE_TTL_SECONDS: '1', USERS_CACHE_SWR_SECONDS: '0', USERS_CACHE_SIE_SECONDS: '0' },
    });
    expect((await h.gql('{ user(id: "usr_0042") { id } }')).body.data.user.id).toBe('usr_0042');
    await new Promise((r) => setTimeout(r, 1_100)); // the entry is stale; it has an ETag
    await abandonOneOfTwo(h, {
      sim: h.users,
      route: 'GET /users/:id',
      status: 304,
      query: '{ user(id: "usr_0042") { id name } }',
      check: (data) => expect(data.user.id).toBe('usr_0042'),
    });
    const revalidations = h.users.requests.filter((r) => r.headers['if-none-match'] !== undefined);
    expect(revalidations).toHaveLength(1);
  });
});

describe('a batch serves several operations', () => {
  it('reports the one users batch call to every operation whose ids it carried', async () => {
    h = await startHarness();
    const client = h.app.services.clients.users;
    await client.listUsers({ limit: 1, cursor: null }, {}); // the token, out of the way
    const seen: Record<string, string[]> = { a: [], b: [] };
    const ctx = (name: string) => ({ onCall: (info: { route: string }) => seen[name]!.push(info.route) });
    const [a, b] = await Promise.all([
      client.getUser('usr_0007', ctx('a')),
      client.getUser('usr_0008', ctx('b')),
    ]);
    expect([a?.id, b?.id]).toEqual(['usr_0007', 'usr_0008']);
    expect(h.users.count({ route: 'GET /users' }) - 1).toBe(1); // one batch for both
    expect(seen).toEqual({ a: ['GET /users?ids'], b: ['GET /users?ids'] });
  });
});

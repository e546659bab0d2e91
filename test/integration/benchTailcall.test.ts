// Baseline B5 of `npm run bench`: Tailcall 1.0.0 (a native binary from the npm registry) over the
// same simulators as a real Junction. It must answer the bench's queries with Junction's data, at
// the bench's floor of upstream calls, with its cache, cold mode, client-token check and pinning
// doing what the bench report says they do.
import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_KEY_ID, tailcallConfig } from '../bench/baselines/tailcall/config.js';
import { launchTailcall, type TailcallProcess } from '../bench/baselines/tailcall/launch.js';
import { tasksetAvailable } from '../bench/lib/child.js';
import { clientToken } from '../bench/lib/clientToken.js';
import {
  byIdsQuery,
  fanOutQuery,
  floorCalls,
  listQuery,
  NAMES_AND_BILLING,
  type Operation,
} from '../bench/lib/queries.js';
import { type Harness, startHarness } from '../helpers/harness.js';

const SECRET = 'bench-tailcall-test-secret-0123456789abcdef';
// usr_0004 and usr_0007 have no Stripe customer; usr_0001 is asked twice.
const IDS = ['usr_0001', 'usr_0002', 'usr_0004', 'usr_0001', 'usr_0007', 'usr_0010', 'usr_0011', 'usr_0012'];

let harness: Harness;
let token: string;
const started: TailcallProcess[] = [];

function launch(extra: { cpus?: string; minTokenLifetimeS?: number } = {}): TailcallProcess {
  const tc = launchTailcall({
    label: 'tailcall-test',
    env: {
      USERS_API_URL: harness.users.url,
      USERS_TOKEN_URL: `${harness.users.url}/oauth/token`,
      USERS_CLIENT_ID: harness.users.credentials.clientId,
      USERS_CLIENT_SECRET: harness.users.credentials.clientSecret,
      STRIPE_API_BASE: harness.stripe.url,
      STRIPE_SECRET_KEY: harness.stripe.secretKey,
      JWT_SECRET: SECRET,
      UPSTREAM_CONNECTIONS: '8',
      UPSTREAM_TIMEOUT_MS: '2000',
    },
    cpus: extra.cpus,
    minTokenLifetimeS: extra.minTokenLifetimeS ?? 600,
    // Batches are counted here: a 1 ms window (the bench's) splits one on a busy machine.
    batchDelayMs: 50,
  });
  started.push(tc);
  return tc;
}

async function ask(tc: TailcallProcess, operation: Operation, bearer: string | null = token) {
  const { url } = (await tc.ready) as { url: string };
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
    body: JSON.stringify(operation),
  });
  return { status: res.status, body: (await res.json()) as { data?: any; errors?: any[] } };
}

/** Upstream calls since the last reset, OAuth token requests left out (as the bench counts them). */
function dataCalls() {
  return [...harness.users.requests, ...harness.stripe.requests].filter(
    (r) => r.route !== 'POST /oauth/token',
  );
}

function resetCounts() {
  harness.users.resetCounters();
  harness.stripe.resetCounters();
}

beforeAll(async () => {
  harness = await startHarness({ env: { JWT_SECRET: SECRET } });
  token = await clientToken(SECRET, { sub: 'usr_0001', admin: true });
});

afterEach(async () => {
  await Promise.all(started.splice(0).map((tc) => tc.stop()));
  harness.users.faults.clear();
  harness.stripe.faults.clear();
});

afterAll(async () => {
  await harness?.close();
});

describe('bench baseline B5 (Tailcall)', () => {
  it('answers the bench queries with the data Junction gives', async () => {
    const tc = launch();
    for (const operation of [byIdsQuery(IDS), listQuery(5), NAMES_AND_BILLING, fanOutQuery(10).operation]) {
      // The bench's client token (with the `kid` Tailcall needs) is good for Junction too.
      const junction = await harness.gql(operation.query, { variables: operation.variables ?? {}, token });
      const tailcall = await ask(tc, operation);
      expect(junction.body.errors).toBeUndefined();
      expect(tailcall.body.errors).toBeUndefined();
      expect(tailcall.body.data).toEqual(junction.body.data);
    }
    // The users without a customer are in the comparison: billing null, no payments.
    const { body } = await ask(tc, byIdsQuery(['usr_0004']));
    expect(body.data.u0).toMatchObject({ id: 'usr_0004', billing: null, payments: { nodes: [] } });
  });

  it('costs exactly the floor of upstream calls cold, none warm, and the floor again once its cache is cleared', async () => {
    const tc = launch();
    await tc.ready;
    const floor = floorCalls(IDS);
    resetCounts();
    expect((await ask(tc, byIdsQuery(IDS))).body.errors).toBeUndefined();
    const cold = dataCalls();
    expect(cold).toHaveLength(floor);
    // One users batch with every distinct id; no Stripe call for the users without a customer.
    const batches = cold.filter((r) => r.route === 'GET /users');
    expect(batches).toHaveLength(1);
    expect(new Set(batches[0]?.query.getAll('ids'))).toEqual(new Set(IDS));
    expect(cold.every((r) => r.route !== undefined)).toBe(true);

    resetCounts();
    expect((await ask(tc, byIdsQuery(IDS))).body.errors).toBeUndefined();
    expect(dataCalls()).toHaveLength(0);

    const before = tc.pid;
    await tc.request('clearCache');
    expect(tc.pid).not.toBe(before);
    resetCounts();
    expect((await ask(tc, byIdsQuery(IDS))).body.errors).toBeUndefined();
    expect(dataCalls()).toHaveLength(floor);
  });

  it('pays every call on every request in cold mode, and caches again after it', async () => {
    const tc = launch();
    await tc.request('setCold', { on: true });
    for (let i = 0; i < 2; i++) {
      resetCounts();
      expect((await ask(tc, byIdsQuery(IDS))).body.errors).toBeUndefined();
      expect(dataCalls()).toHaveLength(floorCalls(IDS));
    }
    await tc.request('setCold', { on: false });
    await ask(tc, byIdsQuery(IDS));
    resetCounts();
    await ask(tc, byIdsQuery(IDS));
    expect(dataCalls()).toHaveLength(0);
  });

  it('checks the client token, and no upstream ever sees it', async () => {
    const tc = launch();
    await tc.ready;
    resetCounts();
    const refused = [
      await ask(tc, byIdsQuery(['usr_0001']), null),
      await ask(tc, byIdsQuery(['usr_0001']), await clientToken(`${SECRET}-other`, { sub: 'usr_0001' })),
      await ask(
        tc,
        byIdsQuery(['usr_0001']),
        await clientToken(SECRET, { sub: 'usr_0001', ttlSeconds: -300 }),
      ),
    ];
    for (const { body } of refused) {
      expect(body.data ?? null).toBeNull();
      expect(body.errors?.[0]?.message).toMatch(/Authentication Failure/);
    }
    expect(dataCalls()).toHaveLength(0);

    expect((await ask(tc, byIdsQuery(['usr_0001', 'usr_0002']))).body.errors).toBeUndefined();
    const users = harness.users.requests.filter((r) => r.route === 'GET /users');
    const stripe = harness.stripe.requests;
    expect(users.length).toBeGreaterThan(0);
    expect(stripe.length).toBeGreaterThan(0);
    for (const r of users) expect(r.headers.authorization).toMatch(/^Bearer utk_/);
    for (const r of stripe) expect(r.headers.authorization).toBe(`Bearer ${harness.stripe.secretKey}`);
  });

  it('answers data: null for the whole operation when one upstream call fails (what S5 shows)', async () => {
    const tc = launch();
    harness.stripe.faults.add({ status: 503 });
    resetCounts();
    const { status, body } = await ask(tc, NAMES_AND_BILLING);
    expect(status).toBe(200);
    // The users service answered (the names were there to give), Stripe did not.
    expect(harness.users.count({ route: 'GET /users' })).toBe(1);
    expect(body.data).toBeNull();
    expect(body.errors?.[0]?.message).toMatch(/503/);
  });

  it('refuses to start with a users token that would expire during the run', async () => {
    harness.users.setTokenTtl(60);
    try {
      const tc = launch({ minTokenLifetimeS: 900 });
      await expect(tc.ready).rejects.toThrow(/users token expires in 60 s, the run needs 900 s/);
    } finally {
      harness.users.setTokenTtl(3600);
    }
  });

  it.skipIf(!tasksetAvailable())(
    'runs pinned to the CPUs it is given, and is stopped by its pid',
    async () => {
      const tc = launch({ cpus: '0' });
      await tc.ready;
      expect(tc.pinned).toBe(true);
      const status = readFileSync(`/proc/${tc.pid}/status`, 'utf8');
      expect(/Cpus_allowed_list:\s*(\S+)/.exec(status)?.[1]).toBe('0');
      expect(readFileSync(`${tc.configDir}/main.graphql`, 'utf8')).toContain('workers: 1');
      const { pid } = tc;
      await tc.stop();
      expect(() => process.kill(pid, 0)).toThrow();
    },
  );
});

describe('bench baseline B5 config', () => {
  const options = {
    port: 4100,
    usersUrl: 'http://127.0.0.1:4101',
    stripeUrl: 'http://127.0.0.1:4102/',
    usersToken: 'utk_abc',
    stripeKey: 'sk_test_abc',
    jwtSecret: SECRET,
    connections: 32,
    timeoutMs: 4500,
    workers: 1,
    cache: true,
  };

  it("carries Junction's TTLs, the socket cap and the timeout, and drops @cache when cold", () => {
    const { schema } = tailcallConfig(options);
    expect(schema).toContain('poolMaxIdlePerHost: 32');
    expect(schema).toContain('timeout: 5'); // whole seconds, rounded up
    expect(schema.match(/@cache\(maxAge: 30000\)/g)).toHaveLength(2);
    expect(schema).toContain('@cache(maxAge: 60000)');
    expect(schema).toContain('@cache(maxAge: 15000)');
    expect(schema.match(/dedupe: true/g)).toHaveLength(4);
    expect(tailcallConfig({ ...options, cache: false }).schema).not.toContain('@cache');
  });

  it('keeps the credentials out of the schema, and refuses values that would break the files', () => {
    const { schema, hooks, jwks } = tailcallConfig(options);
    expect(schema).not.toContain('utk_abc');
    expect(schema).not.toContain('sk_test_abc');
    expect(hooks).toContain('"Bearer utk_abc"');
    expect(JSON.parse(jwks).keys[0]).toMatchObject({ kty: 'oct', alg: 'HS256', kid: CLIENT_KEY_ID });
    expect(() => tailcallConfig({ ...options, usersToken: 'a"b c' })).toThrow(/usersToken/);
    expect(() => tailcallConfig({ ...options, stripeUrl: 'ftp://x' })).toThrow(/stripeUrl/);
    expect(() => tailcallConfig({ ...options, jwtSecret: 'short' })).toThrow(/jwtSecret/);
    expect(() => tailcallConfig({ ...options, connections: 0 })).toThrow(/connections/);
  });
});

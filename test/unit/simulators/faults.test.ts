// The simulator framework and its fault injection, exercised over real loopback sockets.
import { connect } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFaultEngine, faultRulesFromEnv } from '../../../src/simulators/shared/faults.js';
import type { Route } from '../../../src/simulators/shared/router.js';
import type { Simulator } from '../../../src/simulators/shared/simulator.js';
import { createSimulator } from '../../../src/simulators/shared/simulator.js';
import { SimHttpError } from '../../../src/simulators/shared/wire.js';

const routes: Route[] = [
  {
    method: 'GET',
    path: '/items/:id',
    handler: (req) => ({ status: 200, body: { id: req.params.id, q: req.query.get('q') } }),
  },
  {
    method: 'POST',
    path: '/items',
    handler: (req) => ({ status: 201, body: { received: req.json() } }),
  },
  {
    method: 'POST',
    path: '/2010-04-01/Accounts/:sid/Messages.json',
    handler: (req) => ({
      status: 201,
      headers: { 'X-Custom': 'yes' },
      body: { sid: req.params.sid, to: req.form().get('To'), nested: req.form().get('a[b]') },
    }),
  },
  {
    method: 'GET',
    path: '/Messages/:sid.json',
    name: 'message',
    handler: (req) => ({ status: 200, body: req.params }),
  },
  { method: 'GET', path: '/text', handler: () => ({ status: 200, body: 'plain words' }) },
  {
    method: 'GET',
    path: '/teapot',
    handler: () => {
      throw new SimHttpError(418, 'short and stout');
    },
  },
  {
    method: 'GET',
    path: '/big',
    handler: () => ({ status: 200, body: { data: Array.from({ length: 200 }, (_, i) => ({ i })) } }),
  },
];

let sim: Simulator;
let base: string;

beforeEach(async () => {
  sim = createSimulator({ name: 'test', routes, etag: true });
  base = await sim.start();
});

afterEach(async () => {
  await sim.close();
});

/** Resolves once the simulator has recorded `n` requests (they arrive asynchronously). */
async function untilRecorded(n: number): Promise<void> {
  for (let i = 0; i < 200 && sim.requests.length < n; i++) await new Promise((r) => setTimeout(r, 10));
  expect(sim.requests.length).toBeGreaterThanOrEqual(n);
}

/** A raw HTTP/1.1 GET over a socket: returns the head, the body bytes that arrived, and whether the socket errored. */
function rawGet(url: string, path: string): Promise<{ head: string; body: Buffer; socketError: boolean }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let socketError = false;
    const socket = connect(Number(port), hostname, () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${hostname}\r\nConnection: close\r\n\r\n`);
    });
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => {
      socketError = true;
    });
    socket.on('close', () => {
      const all = Buffer.concat(chunks);
      const split = all.indexOf('\r\n\r\n');
      resolve({
        head: split < 0 ? all.toString('latin1') : all.subarray(0, split).toString('latin1'),
        body: split < 0 ? Buffer.alloc(0) : all.subarray(split + 4),
        socketError,
      });
    });
  });
}

function headerOf(head: string, name: string): string | undefined {
  const line = head.split('\r\n').find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  return line?.slice(line.indexOf(':') + 1).trim();
}

describe('createSimulator: lifecycle', () => {
  it('listens on loopback at a random port and throws on url before start', async () => {
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(sim.url).toBe(base);
    expect(await sim.start()).toBe(base);
    const idle = createSimulator({ name: 'idle', routes: [] });
    expect(() => idle.url).toThrow(/idle is not started/);
    await idle.close(); // closing a never-started simulator is a no-op
  });

  it('close() ends keep-alive connections so the port stops answering', async () => {
    await (await fetch(`${base}/text`)).text();
    await sim.close();
    await expect(fetch(`${base}/text`)).rejects.toThrow();
  });
});

describe('createSimulator: routing and recording', () => {
  it('routes by method and template, decoding params and passing the query', async () => {
    const res = await fetch(`${base}/items/a%20b?q=x`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id: 'a b', q: 'x' });

    const msg = await fetch(`${base}/Messages/SM123.json`);
    expect(await msg.json()).toEqual({ sid: 'SM123' });
  });

  it('answers 404 JSON for unknown routes and for a known path with another method', async () => {
    for (const [method, path] of [
      ['GET', '/nowhere'],
      ['DELETE', '/items/1'],
    ] as const) {
      const res = await fetch(`${base}${path}`, { method });
      expect(res.status).toBe(404);
      const body = (await res.json()) as { error: { message: string } };
      expect(body.error.message).toMatch(/^no route/);
    }
    expect(sim.requests.map((r) => r.route)).toEqual([undefined, undefined]);
  });

  it('parses JSON and form bodies and lets handlers set headers', async () => {
    const created = await fetch(`${base}/items`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'x' }),
    });
    expect(created.status).toBe(201);
    expect(await created.json()).toEqual({ received: { name: 'x' } });

    const form = await fetch(`${base}/2010-04-01/Accounts/AC1/Messages.json`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ To: '+15550001111', 'a[b]': 'c' }).toString(),
    });
    expect(form.status).toBe(201);
    expect(form.headers.get('x-custom')).toBe('yes');
    expect(await form.json()).toEqual({ sid: 'AC1', to: '+15550001111', nested: 'c' });
  });

  it('answers 400 when a handler reads an invalid JSON body, and SimHttpError picks the status', async () => {
    const bad = await fetch(`${base}/items`, { method: 'POST', body: '{nope' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(/not valid JSON/);

    const teapot = await fetch(`${base}/teapot`);
    expect(teapot.status).toBe(418);
    expect(await teapot.json()).toEqual({ error: { message: 'short and stout' } });
  });

  it('sends raw strings as text/plain', async () => {
    const res = await fetch(`${base}/text`);
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(await res.text()).toBe('plain words');
  });

  it('records every request and counts by route template, method and path prefix', async () => {
    await fetch(`${base}/items/1`);
    await fetch(`${base}/items/2?q=z`);
    await fetch(`${base}/items`, { method: 'POST', body: '{"a":1}' });
    await fetch(`${base}/nowhere`);

    expect(sim.count()).toBe(4);
    expect(sim.count({ route: 'GET /items/:id' })).toBe(2);
    expect(sim.count({ method: 'post' })).toBe(1);
    expect(sim.count({ pathPrefix: '/items' })).toBe(3);
    expect(sim.count({ route: 'GET /items/2' })).toBe(0); // names are templates, so counters stay bounded

    const [first, second, third] = sim.requests;
    expect(first?.route).toBe('GET /items/:id');
    expect(second?.query.get('q')).toBe('z');
    expect(third?.body).toBe('{"a":1}');
    expect(typeof third?.at).toBe('number');

    const held = sim.requests;
    sim.resetCounters();
    expect(sim.count()).toBe(0);
    expect(held).toHaveLength(0);
  });

  it('uses a custom route name for counters', async () => {
    await fetch(`${base}/Messages/SM1.json`);
    expect(sim.count({ route: 'message' })).toBe(1);
  });

  it("sends its own request id and records the caller's", async () => {
    const res = await fetch(`${base}/items/1`, { headers: { 'x-request-id': 'caller-123' } });
    const id = res.headers.get('x-request-id');
    expect(id).toMatch(/^req_[0-9a-f]{16}$/);
    expect(sim.requests[0]?.headers['x-request-id']).toBe('caller-123');

    const other = await fetch(`${base}/nowhere`);
    expect(other.headers.get('x-request-id')).toMatch(/^req_/);
    expect(other.headers.get('x-request-id')).not.toBe(id);
  });

  it('can put the request id in another header (e.g. Stripe Request-Id)', async () => {
    const stripeLike = createSimulator({ name: 'stripe-like', routes, requestIdHeader: 'Request-Id' });
    try {
      const res = await fetch(`${await stripeLike.start()}/items/1`);
      expect(res.headers.get('request-id')).toMatch(/^req_/);
      expect(res.headers.get('x-request-id')).toBeNull();
    } finally {
      await stripeLike.close();
    }
  });
});

describe('createSimulator: what providers plug in', () => {
  it("answers a SimHttpError's headers along with its status and body", async () => {
    const challenged = createSimulator({
      name: 'challenged',
      routes: [
        {
          method: 'GET',
          path: '/secret',
          handler: () => {
            throw new SimHttpError(
              401,
              'who are you',
              { error: 'unauthorized' },
              {
                'WWW-Authenticate': 'Basic realm="sim"',
              },
            );
          },
        },
      ],
    });
    try {
      const res = await fetch(`${await challenged.start()}/secret`);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Basic realm="sim"');
      expect(res.headers.get('x-request-id')).toMatch(/^req_/);
      expect(await res.json()).toEqual({ error: 'unauthorized' });
    } finally {
      await challenged.close();
    }
  });

  it("errorShape gives injected error statuses the provider's body and headers, at creation and later", async () => {
    const shaped = createSimulator({
      name: 'shaped',
      routes,
      faults: [{ match: { route: 'GET /items/:id' }, status: 503, times: 1 }],
      errorShape: (status) => ({ body: { fault: status }, headers: { 'x-should-retry': 'true' } }),
    });
    try {
      const url = await shaped.start();
      const atCreation = await fetch(`${url}/items/1`);
      expect(atCreation.status).toBe(503);
      expect(atCreation.headers.get('x-should-retry')).toBe('true');
      expect(await atCreation.json()).toEqual({ fault: 503 });

      shaped.faults.add({ match: { route: 'GET /items/:id' }, status: 429, times: 1 });
      const added = await fetch(`${url}/items/1`);
      expect(added.status).toBe(429);
      expect(await added.json()).toEqual({ fault: 429 });

      // A rule's own body and headers win over the provider's.
      shaped.faults.add({ status: 500, times: 1, body: 'own', headers: { 'x-should-retry': 'false' } });
      const own = await fetch(`${url}/items/1`);
      expect(own.headers.get('x-should-retry')).toBe('false');
      expect(await own.text()).toBe('own');

      expect((await fetch(`${url}/items/1`)).status).toBe(200);
    } finally {
      await shaped.close();
    }
  });

  it('runs onReset after resetCounters and onClose when closing, before the server stops', async () => {
    const calls: string[] = [];
    let urlWhileClosing: string | undefined;
    const hooked = createSimulator({
      name: 'hooked',
      routes,
      onReset: () => calls.push(`reset with ${hooked.requests.length} requests`),
      onClose: () => {
        calls.push('close');
        urlWhileClosing = hooked.url;
      },
    });
    const url = await hooked.start();
    await (await fetch(`${url}/text`)).text();
    hooked.resetCounters();
    await hooked.close();
    expect(calls).toEqual(['reset with 0 requests', 'close']);
    expect(urlWhileClosing).toBe(url);
    expect(() => hooked.url).toThrow(/not started/);
  });
});

describe('createSimulator: ETags', () => {
  it('sends a strong ETag on GET JSON 200s and answers 304 when If-None-Match matches', async () => {
    const first = await fetch(`${base}/items/1`);
    const etag = first.headers.get('etag');
    expect(etag).toMatch(/^"[0-9a-f]{40}"$/);

    const revalidated = await fetch(`${base}/items/1`, { headers: { 'if-none-match': etag ?? '' } });
    expect(revalidated.status).toBe(304);
    expect(revalidated.headers.get('etag')).toBe(etag);
    expect(await revalidated.text()).toBe('');

    const weak = await fetch(`${base}/items/1`, { headers: { 'if-none-match': `"other", W/${etag}` } });
    expect(weak.status).toBe(304);

    const changed = await fetch(`${base}/items/2`, { headers: { 'if-none-match': etag ?? '' } });
    expect(changed.status).toBe(200);
    expect(changed.headers.get('etag')).not.toBe(etag);
  });

  it('adds no ETag to non-GET, non-JSON or when the option is off', async () => {
    const post = await fetch(`${base}/items`, { method: 'POST', body: '{}' });
    expect(post.headers.get('etag')).toBeNull();
    expect((await fetch(`${base}/text`)).headers.get('etag')).toBeNull();

    const plain = createSimulator({ name: 'plain', routes });
    try {
      const res = await fetch(`${await plain.start()}/items/1`);
      expect(res.headers.get('etag')).toBeNull();
    } finally {
      await plain.close();
    }
  });
});

describe('faults over real sockets', () => {
  it('latency delays the answer (lower bound only) and latencies of matching rules add up', async () => {
    sim.faults.add({ latencyMs: 120 });
    sim.faults.add({ match: { route: 'GET /items/:id' }, latencyMs: 120 });

    let t0 = performance.now();
    expect((await fetch(`${base}/text`)).status).toBe(200);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(110);

    t0 = performance.now();
    expect((await fetch(`${base}/items/1`)).status).toBe(200);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(230);
  });

  it('status replaces the handler answer, only on matching requests, and is still recorded', async () => {
    sim.faults.add({ match: { method: 'GET', path: /^\/items\// }, status: 503 });

    const res = await fetch(`${base}/items/1`);
    expect(res.status).toBe(503);
    expect(res.headers.get('x-request-id')).toMatch(/^req_/);
    expect(await res.json()).toEqual({ error: { message: 'simulated fault: status 503' } });
    expect((await fetch(`${base}/text`)).status).toBe(200);
    expect(sim.count({ route: 'GET /items/:id' })).toBe(1);
  });

  it('429 carries the rule headers (retry-after) and body', async () => {
    sim.faults.add({
      match: { route: 'GET /items/:id' },
      status: 429,
      headers: { 'Retry-After': '2' },
      body: { error: 'slow down' },
    });
    const res = await fetch(`${base}/items/1`);
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('2');
    expect(await res.json()).toEqual({ error: 'slow down' });
  });

  it('statusSequence 503, 503 then the handler, after which the rule expires', async () => {
    sim.faults.add({ match: { route: 'GET /items/:id' }, statusSequence: [503, 503, 200] });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await fetch(`${base}/items/${i}`)).status);
    expect(statuses).toEqual([503, 503, 200, 200]);
    expect(sim.faults.active).toHaveLength(0);
    expect(sim.count({ route: 'GET /items/:id' })).toBe(4);
  });

  it('times limits how many requests a rule affects', async () => {
    sim.faults.add({ status: 500, times: 2 });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await fetch(`${base}/text`)).status);
    expect(statuses).toEqual([500, 500, 200]);
    expect(sim.faults.active).toHaveLength(0);
  });

  it('probability 0 never fires; probability uses the injected random source', async () => {
    sim.faults.add({ status: 500, probability: 0 });
    for (let i = 0; i < 5; i++) expect((await fetch(`${base}/text`)).status).toBe(200);

    const rolls = [0.1, 0.9, 0.2];
    const seeded = createSimulator({ name: 'seeded', routes, random: () => rolls.shift() ?? 0.99 });
    seeded.faults.add({ status: 503, probability: 0.5 });
    try {
      const url = await seeded.start();
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push((await fetch(`${url}/text`)).status);
      expect(statuses).toEqual([503, 200, 503, 200]);
    } finally {
      await seeded.close();
    }
  });

  it('the first matching terminal rule decides; remove() and clear() take rules out', async () => {
    const first = sim.faults.add({ status: 502 });
    sim.faults.add({ status: 504 });
    expect((await fetch(`${base}/text`)).status).toBe(502);
    first.remove();
    expect((await fetch(`${base}/text`)).status).toBe(504);
    sim.faults.clear();
    expect((await fetch(`${base}/text`)).status).toBe(200);
  });

  it('reset before-response: the client sees a socket error, the request is still counted', async () => {
    sim.faults.add({ reset: 'before-response', times: 1 });
    await expect(fetch(`${base}/items/1`)).rejects.toThrow(TypeError);
    expect(sim.count({ route: 'GET /items/:id' })).toBe(1);
    expect((await fetch(`${base}/items/1`)).status).toBe(200); // times: 1 => the next one is fine
  });

  it('reset after-headers: the client gets the status, then the body read fails', async () => {
    sim.faults.add({ reset: 'after-headers' });
    const res = await fetch(`${base}/big`);
    expect(res.status).toBe(200);
    await expect(res.text()).rejects.toThrow();
  });

  it('hang: a client-side abort works, and close() returns promptly with a request still hanging', async () => {
    sim.faults.add({ hang: true });
    await expect(fetch(`${base}/items/1`, { signal: AbortSignal.timeout(200) })).rejects.toThrow(
      /aborted|timeout/i,
    );

    const pending = fetch(`${base}/items/2`);
    pending.catch(() => undefined);
    await untilRecorded(2);
    const t0 = performance.now();
    await sim.close();
    expect(performance.now() - t0).toBeLessThan(2000);
    await expect(pending).rejects.toThrow();
  });

  it('close() also ends a request held in a latency delay', async () => {
    sim.faults.add({ latencyMs: 60_000 });
    const pending = fetch(`${base}/text`);
    pending.catch(() => undefined);
    await untilRecorded(1);
    await sim.close();
    await expect(pending).rejects.toThrow();
  });

  it('truncate: Content-Length promises more than arrives, and clients error', async () => {
    sim.faults.add({ truncate: true });
    const raw = await rawGet(base, '/big');
    expect(raw.head).toMatch(/^HTTP\/1\.1 200/);
    const declared = Number(headerOf(raw.head, 'content-length'));
    expect(raw.body.length).toBeGreaterThan(0);
    expect(raw.body.length).toBeLessThan(declared);

    const res = await fetch(`${base}/big`);
    expect(res.status).toBe(200);
    await expect(res.text()).rejects.toThrow();
  });

  it('malformed: 200 application/json whose body does not parse', async () => {
    sim.faults.add({ malformed: true, match: { route: 'GET /items/:id' } });
    const res = await fetch(`${base}/items/1`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    await expect(res.json()).rejects.toThrow(SyntaxError);
  });
});

describe('createFaultEngine', () => {
  const target = { method: 'GET', route: 'GET /x', path: '/x' };

  it('rejects invalid rules with a message naming what was expected', () => {
    const engine = createFaultEngine();
    expect(() => engine.add({ status: 503, hang: true })).toThrow(
      /at most one terminal effect.*status \+ hang/,
    );
    expect(() => engine.add({ probability: 2 })).toThrow(/probability must be a number in \[0, 1\]/);
    expect(() => engine.add({ times: 0 })).toThrow(/times must be an integer >= 1/);
    expect(() => engine.add({ statusSequence: [] })).toThrow(/statusSequence/);
    expect(() => engine.add({ status: 42 })).toThrow(/status must be an integer HTTP status/);
    expect(engine.active).toHaveLength(0);
  });

  it('adds jitter in [0, jitterMs) and skips later terminal rules without consuming them', () => {
    const engine = createFaultEngine({ random: () => 0.5 });
    engine.add({ latencyMs: 10, jitterMs: 20 });
    engine.add({ status: 503 });
    const later = { status: 500, latencyMs: 1000, times: 1 };
    engine.add(later);
    const decision = engine.decide(target);
    expect(decision.delayMs).toBe(20);
    expect(decision.outcome).toEqual({ kind: 'status', status: 503, body: undefined, headers: {} });
    expect(engine.active).toContain(later);
  });

  it('does not match rules whose route is set when the request matched no route', () => {
    const engine = createFaultEngine();
    engine.add({ match: { route: 'GET /x' }, status: 503 });
    expect(engine.decide({ ...target, route: undefined }).outcome).toBeUndefined();
    expect(engine.decide(target).outcome?.kind).toBe('status');
  });
});

describe('faultRulesFromEnv', () => {
  it('turns SIM_* variables into a latency rule and an error-rate rule', () => {
    const rules = faultRulesFromEnv({
      SIM_LATENCY_MS: '50',
      SIM_JITTER_MS: '10',
      SIM_ERROR_RATE: '0.1',
      SIM_ERROR_STATUS: '502',
    });
    expect(rules).toEqual([
      { latencyMs: 50, jitterMs: 10 },
      { probability: 0.1, status: 502 },
    ]);
  });

  it('returns nothing when unset, defaults the error status to 503, and accepts a prefix without _', () => {
    expect(faultRulesFromEnv({ SIM_LATENCY_MS: '', OTHER: '1' })).toEqual([]);
    expect(faultRulesFromEnv({ SIM_ERROR_STATUS: '500' })).toEqual([]);
    expect(faultRulesFromEnv({ USERS_SIM_ERROR_RATE: '1' }, 'USERS_SIM')).toEqual([
      { probability: 1, status: 503 },
    ]);
  });

  it('throws on malformed values, naming the variable', () => {
    expect(() => faultRulesFromEnv({ SIM_LATENCY_MS: 'fast' })).toThrow(/SIM_LATENCY_MS must be a number/);
    expect(() => faultRulesFromEnv({ SIM_ERROR_RATE: '1.5' })).toThrow(/SIM_ERROR_RATE/);
    expect(() => faultRulesFromEnv({ SIM_ERROR_STATUS: '503.5' })).toThrow(/SIM_ERROR_STATUS/);
  });
});

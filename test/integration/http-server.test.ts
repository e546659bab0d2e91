// The HTTP server protects itself and drains cleanly: real slow clients over raw sockets are cut by
// the request and keep-alive timeouts (the WebSocket upgrade too); on drain, readiness goes 503
// while requests are still served, in-flight work finishes, and subscriptions end with 1012.
import { once } from 'node:events';
import net from 'node:net';
import { createClient } from 'graphql-ws';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { SHUTDOWN_CLOSE_CODE } from '../../src/app.js';
import { connectionsCheckingIntervalMs } from '../../src/httpServer.js';
import { type Harness, startHarness, USER_FETCHES } from '../helpers/harness.js';

let h: Harness | undefined;
const sockets: net.Socket[] = [];
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const c of cleanups.splice(0)) await c();
  await h?.close();
  h = undefined;
});

interface SlowClient {
  socket: net.Socket;
  /** Resolves with what the server sent, once it closed the connection. */
  closed: Promise<string>;
  /** Bytes the client managed to send before the server cut it. */
  sent: () => number;
}

/**
 * A client that sends `head` at once, then one more byte of `drip` every `everyMs` until the
 * server closes the connection (it never finishes on its own).
 */
function slowClient(url: string, head: string, drip: string, everyMs: number): SlowClient {
  const { port } = new URL(url);
  const socket = net.connect(Number(port), '127.0.0.1');
  sockets.push(socket);
  let received = '';
  let sent = 0;
  let timer: NodeJS.Timeout | undefined;
  socket.on('data', (d) => {
    received += d.toString('latin1');
  });
  socket.on('error', () => {});
  socket.once('connect', () => {
    socket.write(head);
    let i = 0;
    timer = setInterval(() => {
      if (socket.destroyed || socket.writableEnded) return;
      socket.write(drip[i % drip.length]!);
      sent += 1;
      i += 1;
    }, everyMs);
  });
  const closed = once(socket, 'close').then(() => {
    clearInterval(timer);
    return received;
  });
  return { socket, closed, sent: () => sent };
}

/** Resolves to true if `promise` settles within `ms`, else false (and leaves it running). */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const result = await Promise.race([promise.then(() => true), timeout]);
  clearTimeout(timer);
  return result;
}

// Long enough that a starved server still reads an ordinary request within it (600 ms once cut the
// test's own well-behaved request, ECONNRESET, on a loaded CI machine).
const TIMEOUT_MS = 1_500;
/** The most a slow client may outlive the timeout: Node checks connections at an interval. */
// Slack for a loaded CI machine: 2 s once missed a silent connection's cut (fresh-clone CI).
const CUT_BOUND_MS = TIMEOUT_MS + 2 * connectionsCheckingIntervalMs(TIMEOUT_MS) + 5_000;

describe('HTTP timeouts (HTTP_REQUEST_TIMEOUT_MS)', () => {
  it('cuts clients that send their headers one byte at a time, while others are served', async () => {
    h = await startHarness({ env: { HTTP_REQUEST_TIMEOUT_MS: String(TIMEOUT_MS) } });
    const clients = Array.from({ length: 30 }, () =>
      slowClient(h!.url, 'POST /graphql HTTP/1.1\r\nHost: x\r\n', 'X-Slow: aaaaaaaa\r\n', 100),
    );
    // Served meanwhile: the slow ones hold no worker and block nobody.
    const res = await h.gql('{ me { id } }');
    expect(res.body.data.me.id).toBe('usr_0001');
    expect(await within(Promise.all(clients.map((c) => c.closed)), CUT_BOUND_MS)).toBe(true);
    const answers = await Promise.all(clients.map((c) => c.closed));
    for (const answer of answers) expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    // Each kept sending until it was cut: the server closed it, not the client giving up.
    for (const c of clients) expect(c.sent()).toBeGreaterThan(2);
  });

  it('cuts a client that sends its body one byte at a time', async () => {
    h = await startHarness({ env: { HTTP_REQUEST_TIMEOUT_MS: String(TIMEOUT_MS) } });
    const body = JSON.stringify({ query: '{ me { id } }' }).padEnd(4000, ' ');
    const client = slowClient(
      h.url,
      `POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
      body,
      100,
    );
    expect(await within(client.closed, CUT_BOUND_MS)).toBe(true);
    expect(await client.closed).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('cuts a connection that never sends a byte', async () => {
    h = await startHarness({ env: { HTTP_REQUEST_TIMEOUT_MS: String(TIMEOUT_MS) } });
    const socket = net.connect(Number(new URL(h.url).port), '127.0.0.1');
    sockets.push(socket);
    socket.on('error', () => {});
    expect(await within(once(socket, 'close'), CUT_BOUND_MS)).toBe(true);
  });

  it('cuts a slow WebSocket upgrade request the same way', async () => {
    h = await startHarness({ env: { HTTP_REQUEST_TIMEOUT_MS: String(TIMEOUT_MS) } });
    const client = slowClient(
      h.url,
      'GET /graphql HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n',
      'Sec-WebSocket-Protocol: graphql-transport-ws\r\n',
      100,
    );
    expect(await within(client.closed, CUT_BOUND_MS)).toBe(true);
    expect(await client.closed).not.toContain('101 Switching Protocols');
  });

  it('never cuts a request whose answer takes longer than the timeout (it covers receiving only)', async () => {
    h = await startHarness({ env: { HTTP_REQUEST_TIMEOUT_MS: '300', OPERATION_TIMEOUT_MS: '10000' } });
    h.users.faults.add({ match: USER_FETCHES, latencyMs: 1_200 });
    const res = await h.gql('{ user(id: "usr_0005") { id } }');
    expect(res.status).toBe(200);
    expect(res.body.data.user.id).toBe('usr_0005');
  });

  it('leaves an upgraded WebSocket alone: a quiet subscription outlives the timeout', async () => {
    h = await startHarness({ env: { HTTP_REQUEST_TIMEOUT_MS: '300' } });
    const token = await h.token('usr_0001');
    let closed = false;
    const pushed = new Promise<unknown>((resolve) => {
      const client = createClient({
        url: `${h!.url.replace('http', 'ws')}/graphql`,
        webSocketImpl: WebSocket,
        connectionParams: { authorization: `Bearer ${token}` },
        retryAttempts: 0,
        on: {
          closed: () => {
            closed = true;
          },
        },
      });
      cleanups.push(() => client.dispose());
      client.subscribe(
        { query: 'subscription { paymentUpdated(userId: "usr_0001") { id } }' },
        { next: resolve, error: () => {}, complete: () => {} },
      );
    });
    for (let i = 0; i < 200 && h.app.pubsub.subscriberCount('payment:usr_0001') === 0; i++)
      await new Promise((r) => setTimeout(r, 10));
    // Quiet for several timeouts (and checking intervals): nothing on the socket in either direction.
    await new Promise((r) => setTimeout(r, 1_200));
    expect(closed).toBe(false);
    h.app.pubsub.publish('payment:usr_0001', { id: 'pi_quiet' });
    expect(await pushed).toMatchObject({ data: { paymentUpdated: { id: 'pi_quiet' } } });
  });

  it('closes an idle kept-alive connection after HTTP_KEEPALIVE_TIMEOUT_MS', async () => {
    h = await startHarness({ env: { HTTP_KEEPALIVE_TIMEOUT_MS: '300' } });
    const socket = net.connect(Number(new URL(h.url).port), '127.0.0.1');
    sockets.push(socket);
    let received = '';
    socket.on('data', (d) => {
      received += d.toString();
    });
    await once(socket, 'connect');
    socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n');
    expect(await within(once(socket, 'close'), 5_000)).toBe(true);
    expect(received).toMatch(/^HTTP\/1\.1 200 /);
    expect(received.toLowerCase()).toContain('keep-alive: timeout=0'); // 300 ms, in whole seconds
  });
});

describe('draining', () => {
  it('answers /readyz 503 once draining begins, while GraphQL is still served (connection: close)', async () => {
    h = await startHarness();
    expect((await fetch(`${h.url}/readyz`)).status).toBe(200);
    h.app.beginDrain();
    const ready = await fetch(`${h.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { status: string }).status).toBe('draining');
    const res = await h.gql('{ me { id } }');
    expect(res.status).toBe(200);
    expect(res.body.data.me.id).toBe('usr_0001');
    expect(res.headers.get('connection')).toBe('close');
  });

  it('on close: finishes the request in flight, ends subscriptions with 1012, and stops promptly', async () => {
    h = await startHarness();
    const token = await h.token('usr_0001');
    const closeEvent = new Promise<{ code: number; reason: string }>((resolve) => {
      const client = createClient({
        url: `${h!.url.replace('http', 'ws')}/graphql`,
        webSocketImpl: WebSocket,
        connectionParams: { authorization: `Bearer ${token}` },
        retryAttempts: 0,
        on: { closed: (event) => resolve(event as { code: number; reason: string }) },
      });
      cleanups.push(() => client.dispose());
      client.subscribe(
        { query: 'subscription { paymentUpdated(userId: "usr_0001") { id } }' },
        { next: () => {}, error: () => {}, complete: () => {} },
      );
    });
    // Wait until the subscription is registered.
    for (let i = 0; i < 200 && h.app.pubsub.subscriberCount('payment:usr_0001') === 0; i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(h.app.pubsub.subscriberCount('payment:usr_0001')).toBe(1);

    const requested = h.users.requests.length;
    h.users.faults.add({ match: USER_FETCHES, latencyMs: 300 });
    const inflight = h.gql('{ user(id: "usr_0042") { id } }');
    for (let i = 0; i < 200 && h.users.requests.length === requested; i++)
      await new Promise((r) => setTimeout(r, 5));
    const closing = h.app.close();
    const res = await inflight;
    expect(res.body.data.user.id).toBe('usr_0042');
    expect(res.headers.get('connection')).toBe('close');
    expect(await closeEvent).toMatchObject({
      code: SHUTDOWN_CLOSE_CODE,
      reason: 'service restart: reconnect',
    });
    // Apollo's own drain would force sockets shut only after 10 s: ours close with their response.
    expect(await within(closing, 5_000)).toBe(true);
    await expect(fetch(`${h.url}/healthz`)).rejects.toThrow();
  });
});

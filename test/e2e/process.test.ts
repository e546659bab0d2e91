// The real entry point as a child process: startup failures, demo mode, graceful shutdown.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

function start(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  return { child, out: () => stdout, err: () => stderr };
}

async function waitFor(check: () => boolean, ms = 15_000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('main', () => {
  it('exits 1 in production without configuration, naming every missing variable', async () => {
    const p = start({ NODE_ENV: 'production' });
    const [code] = await once(p.child, 'exit');
    expect(code).toBe(1);
    for (const name of [
      'USERS_API_URL',
      'USERS_TOKEN_URL',
      'USERS_CLIENT_ID',
      'USERS_CLIENT_SECRET',
      'JWT_SECRET or JWT_JWKS_URL',
    ]) {
      expect(p.err()).toContain(name);
    }
    expect(p.out()).not.toContain('simulator');
  });

  it('in demo mode, pushes paymentUpdated to a subscriber within 1 s of createPayment', async () => {
    const { createClient } = await import('graphql-ws');
    const { default: WebSocket } = await import('ws');
    const p = start({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn' });
    await waitFor(() => /Bearer (\S+)/.test(p.out()) && /GraphQL at (http:\S+)/.test(p.out()));
    const token = /Bearer (\S+)/.exec(p.out())![1]!;
    const url = /GraphQL at (http:\S+)/.exec(p.out())![1]!;
    const client = createClient({
      url: url.replace('http', 'ws'),
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${token}` },
      retryAttempts: 0,
    });
    try {
      const received = new Promise<any>((resolve, reject) => {
        client.subscribe(
          { query: 'subscription { paymentUpdated(userId: "usr_0001") { id status } }' },
          { next: resolve, error: reject, complete: () => {} },
        );
      });
      await new Promise<void>((resolve) => client.on('connected', () => resolve()));
      await new Promise((r) => setTimeout(r, 100));
      const started = Date.now();
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({
          query:
            'mutation { createPayment(input: { userId: "usr_0001", amount: 1999, currency: "usd" }) { payment { id } } }',
        }),
      });
      const id = ((await res.json()) as any).data.createPayment.payment.id;
      const pushed = await received;
      expect(Date.now() - started).toBeLessThan(1000);
      expect(pushed.data.paymentUpdated.id).toBe(id);
    } finally {
      await client.dispose();
    }
  });

  it('starts on simulators in demo mode, prints a token, answers, and drains on SIGTERM', async () => {
    const p = start({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', SIM_LATENCY_MS: '400' });
    await waitFor(() => /Bearer (\S+)/.test(p.out()) && /GraphQL at (http:\S+)/.test(p.out()));
    const token = /Bearer (\S+)/.exec(p.out())![1]!;
    const url = /GraphQL at (http:\S+)/.exec(p.out())![1]!;
    expect(p.out()).toContain('running its embedded simulator');
    const inflight = fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: '{ user(id: "usr_0003") { id name } }' }),
    });
    await new Promise((r) => setTimeout(r, 150)); // the request is now waiting on the slow simulator
    p.child.kill('SIGTERM');
    const res = await inflight;
    const body = (await res.json()) as any;
    expect(body.data.user.id).toBe('usr_0003');
    const [code] = await once(p.child, 'exit');
    expect(code).toBe(0);
    expect(p.out()).toContain('shutdown complete');
  });
});

// The real entry point as a child process: startup failures, demo mode and its secret, graceful
// shutdown (readiness delay, drain, WebSocket close). Demo state goes to a temporary directory.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jwtVerify } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { runTokenCli } from '../../src/cli/token.js';
import { DEMO_SECRETS_FILE } from '../../src/demoState.js';

const children: ChildProcess[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const usersEnv = {
  USERS_API_URL: 'https://users.internal',
  USERS_TOKEN_URL: 'https://auth.internal/oauth/token',
  USERS_CLIENT_ID: 'junction',
  USERS_CLIENT_SECRET: 'not-a-real-secret',
};

function stateDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'junction-main-'));
  dirs.push(dir);
  return join(dir, '.junction');
}

function start(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      JUNCTION_STATE_DIR: env.JUNCTION_STATE_DIR ?? stateDir(),
      ...env,
    },
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

  it('exits 1 without a client-token secret when a provider is remote or HOST is not loopback, naming both', async () => {
    const p = start({ HOST: '0.0.0.0', PORT: '0', ...usersEnv });
    expect((await once(p.child, 'exit'))[0]).toBe(1);
    expect(p.err()).toContain(
      'JWT_SECRET or JWT_JWKS_URL: required when a provider is remote (users) and HOST "0.0.0.0" is not a loopback address',
    );
    expect(p.out()).not.toContain('simulator');
  });

  // One process for several checks (each start costs a second of CPU on a 2-core machine).
  it('demo mode: pushes paymentUpdated within 1 s of createPayment; signs with the generated secret (CLI tokens work); SIGTERM: readiness 503 while serving, then 1012 and exit 0', async () => {
    const { createClient } = await import('graphql-ws');
    const { default: WebSocket } = await import('ws');
    const dir = stateDir();
    const p = start({
      PORT: '0',
      LOG_LEVEL: 'info',
      SHUTDOWN_READINESS_DELAY_MS: '2000',
      JUNCTION_STATE_DIR: dir,
    });
    await waitFor(() => /Bearer (\S+)/.test(p.out()) && /GraphQL at (http:\S+)/.test(p.out()));
    const token = /Bearer (\S+)/.exec(p.out())![1]!;
    const url = /GraphQL at (http:\S+)/.exec(p.out())![1]!;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/graphql$/); // loopback by default
    const base = url.replace(/\/graphql$/, '');
    const post = (query: string, bearer = token) =>
      fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` },
        body: JSON.stringify({ query }),
      });

    // Pushes: the simulator's signed webhook reaches a subscriber within a second.
    let closeEvent: (event: { code: number; reason: string }) => void = () => {};
    const closed = new Promise<{ code: number; reason: string }>((resolve) => {
      closeEvent = resolve;
    });
    const client = createClient({
      url: url.replace('http', 'ws'),
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${token}` },
      retryAttempts: 0,
      on: { closed: (event) => closeEvent(event as { code: number; reason: string }) },
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
      const res = await post(
        'mutation { createPayment(input: { userId: "usr_0001", amount: 1999, currency: "usd" }) { payment { id } } }',
      );
      const id = ((await res.json()) as any).data.createPayment.payment.id;
      const pushed = await received;
      expect(Date.now() - started).toBeLessThan(1000);
      expect(pushed.data.paymentUpdated.id).toBe(id);

      // The secret: generated into the state directory (0600); the CLI mints tokens the server accepts.
      const file = join(dir, DEMO_SECRETS_FILE);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const { jwtSecret } = JSON.parse(readFileSync(file, 'utf8')) as { jwtSecret: string };
      await expect(jwtVerify(token, new TextEncoder().encode(jwtSecret))).resolves.toBeDefined();
      let minted = '';
      const code = await runTokenCli(
        ['--sub', 'usr_0007'],
        { JUNCTION_STATE_DIR: dir },
        {
          out: (t) => {
            minted += t;
          },
          err: () => {},
          stdoutIsTty: true,
        },
      );
      expect(code).toBe(0);
      expect(((await (await post('{ me { id } }', minted.trim())).json()) as any).data.me.id).toBe(
        'usr_0007',
      );

      // SIGTERM: readiness first, serving meanwhile, then the drain ends the subscription with 1012.
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
      p.child.kill('SIGTERM');
      await waitFor(() => p.out().includes('readiness answers 503'));
      expect((await fetch(`${base}/readyz`)).status).toBe(503);
      const served = await post('{ me { id } }');
      expect(served.status).toBe(200);
      expect(((await served.json()) as any).data.me.id).toBe('usr_0001');
      expect(served.headers.get('connection')).toBe('close');
      expect(await closed).toEqual(
        expect.objectContaining({ code: 1012, reason: 'service restart: reconnect' }),
      );
      expect((await once(p.child, 'exit'))[0]).toBe(0);
      expect(p.out()).toContain('shutdown complete');
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

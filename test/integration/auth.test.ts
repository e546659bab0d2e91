// Client tokens at the edge, over HTTP and the WebSocket alike: tokens must expire, may not live
// longer than the configured maximum, and the demo token always fits that maximum.

import { createClient } from 'graphql-ws';
import { SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type Harness, startHarness } from '../helpers/harness.js';

let h: Harness | undefined;
const disposers: Array<() => unknown> = [];
afterEach(async () => {
  for (const d of disposers.splice(0)) await d();
  await h?.close();
  h = undefined;
});

const sign = (harness: Harness, claims: Record<string, unknown>) =>
  new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(harness.jwtSecret));

/** How a WebSocket subscription with `token` ends: its first result, or the close code. */
function subscribeWith(harness: Harness, token: string): Promise<{ data?: unknown; closeCode?: number }> {
  return new Promise((resolve) => {
    const client = createClient({
      url: `${harness.url.replace('http', 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${token}` },
      retryAttempts: 0,
      on: {
        closed: (event) => resolve({ closeCode: (event as { code: number }).code }),
        connected: () => resolve({ data: 'connected' }),
      },
    });
    disposers.push(() => client.dispose());
    client.subscribe(
      { query: 'subscription { paymentUpdated(userId: "usr_0001") { id } }' },
      { next: () => {}, error: () => {}, complete: () => {} },
    );
  });
}

describe('client tokens', () => {
  it('refuses a token without exp over HTTP (401, saying why) and at WebSocket connect', async () => {
    h = await startHarness();
    const forever = await sign(h, { sub: 'usr_0001', roles: ['admin'], iat: Math.floor(Date.now() / 1000) });
    const res = await h.gql('{ me { id } }', { token: forever });
    expect(res.status).toBe(401);
    expect(res.body.errors![0].extensions.code).toBe('UNAUTHENTICATED');
    expect(res.body.errors![0].message).toContain('the token has no exp claim; tokens must expire');
    expect(await subscribeWith(h, forever)).toEqual({ closeCode: 4403 });
    expect(await subscribeWith(h, await h.token('usr_0001'))).toEqual({ data: 'connected' });
  });

  it('accepts it when JWT_REQUIRE_EXP=false', async () => {
    h = await startHarness({ env: { JWT_REQUIRE_EXP: 'false' } });
    const forever = await sign(h, { sub: 'usr_0002' });
    const res = await h.gql('{ me { id } }', { token: forever });
    expect(res.body.data.me.id).toBe('usr_0002');
  });

  it('refuses a token living longer than JWT_MAX_TOKEN_LIFETIME_SECONDS, on both paths', async () => {
    h = await startHarness({ env: { JWT_MAX_TOKEN_LIFETIME_SECONDS: '3600' } });
    const now = Math.floor(Date.now() / 1000);
    const long = await sign(h, { sub: 'usr_0001', iat: now, exp: now + 7200 });
    const res = await h.gql('{ me { id } }', { token: long });
    expect(res.status).toBe(401);
    expect(res.body.errors![0].message).toContain('exceeds the accepted maximum of 3600 s');
    expect(await subscribeWith(h, long)).toEqual({ closeCode: 4403 });
    // The demo token is minted to fit the maximum, so demo mode keeps working.
    const demo = h.app.demoToken!;
    const claims = JSON.parse(Buffer.from(demo.split('.')[1]!, 'base64url').toString()) as {
      iat: number;
      exp: number;
    };
    expect(claims.exp - claims.iat).toBe(3600);
    expect((await h.gql('{ me { id } }', { token: demo })).body.data.me.id).toBe('usr_0001');
  });
});

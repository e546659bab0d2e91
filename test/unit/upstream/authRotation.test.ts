// Upstream auth strategies over rotating secrets: each request reads the secret as it is now, the
// OAuth2 token cache is dropped when the client secret changes (a token fetched with the replaced
// secret while it changed is not cached), and a 401 to a request sent with the replaced static
// secret is worth one retry. The token endpoint is the users simulator's.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fileSecret } from '../../../src/secrets.js';
import { createUsersSimulator, type UsersSimulator } from '../../../src/simulators/users/simulator.js';
import { BasicAuth, BearerAuth, OAuth2ClientCredentialsAuth } from '../../../src/upstream/auth.js';

let sim: UsersSimulator;
beforeEach(async () => {
  sim = createUsersSimulator({ seedCount: 0, clientSecret: 'secret-one' });
  await sim.start();
});
afterEach(() => sim.close());

const rotating = (value: string) => fileSecret({ variable: 'X', file: '/x', raw: value, value });
const tokenRequests = () => sim.requests.filter((r) => r.route === 'POST /oauth/token');
const basicSecret = (authorization: unknown) =>
  Buffer.from(String(authorization).slice('Basic '.length), 'base64').toString('utf8').split(':')[1];

describe('auth strategies over rotating secrets', () => {
  it('Bearer and Basic use the secret as it is at each request; the credential id stays', async () => {
    const key = rotating('sk_one');
    const bearer = new BearerAuth(key);
    const basic = new BasicAuth('AC1', key);
    const id = bearer.credentialId;
    const h: Record<string, string> = {};
    const used = await bearer.authorize(h);
    expect(h.authorization).toBe('Bearer sk_one');
    expect(await bearer.refreshAfterUnauthorized(used)).toBe(false); // nothing newer to try
    key.offer('sk_two');
    await bearer.authorize(h);
    expect(h.authorization).toBe('Bearer sk_two');
    expect(await bearer.refreshAfterUnauthorized(used)).toBe(true); // sent with the old one: retry
    await basic.authorize(h);
    expect(h.authorization).toBe(`Basic ${Buffer.from('AC1:sk_two').toString('base64')}`);
    expect(bearer.credentialId).toBe(id);
  });

  it('OAuth2: a changed client secret drops the cached token; the next one is fetched with the new secret', async () => {
    const secret = rotating('secret-one');
    const auth = new OAuth2ClientCredentialsAuth({
      provider: 'users',
      tokenUrl: `${sim.url}/oauth/token`,
      clientId: sim.credentials.clientId,
      clientSecret: secret,
    });
    const first = await auth.authorize({});
    expect(await auth.authorize({})).toBe(first);
    expect(tokenRequests()).toHaveLength(1);
    sim.addClientSecret('secret-two');
    secret.offer('secret-two');
    const second = await auth.authorize({});
    expect(second).not.toBe(first);
    expect(tokenRequests()).toHaveLength(2);
    expect(basicSecret(tokenRequests().at(-1)?.headers.authorization)).toBe('secret-two');
  });

  it('OAuth2: a token fetch refused because the secret changed meanwhile is tried again with the new one', async () => {
    const secret = rotating('secret-one');
    const auth = new OAuth2ClientCredentialsAuth({
      provider: 'users',
      tokenUrl: `${sim.url}/oauth/token`,
      clientId: sim.credentials.clientId,
      clientSecret: secret,
    });
    // The provider retired the old secret first; the file changes while the refused fetch is on the wire.
    sim.addClientSecret('secret-two');
    sim.removeClientSecret('secret-one');
    sim.faults.add({ match: { route: 'POST /oauth/token' }, latencyMs: 50, times: 1 });
    const pending = auth.authorize({});
    await new Promise((r) => setTimeout(r, 10));
    secret.offer('secret-two');
    await expect(pending).resolves.toEqual(expect.any(String));
    expect(tokenRequests().map((r) => basicSecret(r.headers.authorization))).toEqual([
      'secret-one',
      'secret-two',
    ]);
    // The token from the retry is cached: no third fetch.
    await auth.authorize({});
    expect(tokenRequests()).toHaveLength(2);
  });

  it('OAuth2: a token fetched with the replaced secret while it changed is used once but not cached', async () => {
    const secret = rotating('secret-one');
    sim.addClientSecret('secret-two');
    const auth = new OAuth2ClientCredentialsAuth({
      provider: 'users',
      tokenUrl: `${sim.url}/oauth/token`,
      clientId: sim.credentials.clientId,
      clientSecret: secret,
    });
    sim.faults.add({ match: { route: 'POST /oauth/token' }, latencyMs: 50, times: 1 });
    const pending = auth.authorize({});
    await new Promise((r) => setTimeout(r, 10));
    secret.offer('secret-two');
    await pending; // the caller that was waiting gets its token
    await auth.authorize({});
    expect(tokenRequests().map((r) => basicSecret(r.headers.authorization))).toEqual([
      'secret-one',
      'secret-two',
    ]);
  });
});

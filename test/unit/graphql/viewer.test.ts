// The JWT verifier: claims, the verified-token cache, and expiry that the cache cannot outlive.
import { describe, expect, it } from 'vitest';
import { mintToken } from '../../../src/cli/token.js';
import { createViewerVerifier } from '../../../src/graphql/viewer.js';

const SECRET = 'unit-test-secret-that-is-long-enough-0123456789';
const jwt = {
  secret: SECRET,
  jwksUrl: undefined,
  issuer: undefined,
  audience: undefined,
  isDemoSecret: false,
};

describe('createViewerVerifier', () => {
  it('reads sub and roles, and answers a repeated token from its cache', async () => {
    const verify = createViewerVerifier(jwt);
    const token = await mintToken(SECRET, { sub: 'usr_0042', admin: true, ttlSeconds: 600 });
    const exp = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).exp as number;
    const first = await verify(`Bearer ${token}`);
    // expiresAt (the token's exp, epoch ms) lets a WebSocket close the moment the token expires.
    expect(first).toEqual({ id: 'usr_0042', roles: ['admin'], isAdmin: true, expiresAt: exp * 1000 });
    expect(await verify(`Bearer ${token}`)).toBe(first); // the same object: not verified twice
    expect(await verify(undefined)).toBeNull();
  });

  it('never accepts a cached token past its exp', async () => {
    const verify = createViewerVerifier(jwt);
    const token = await mintToken(SECRET, { sub: 'usr_0001', ttlSeconds: 2 });
    expect(await verify(`Bearer ${token}`)).toMatchObject({ id: 'usr_0001' });
    await new Promise((r) => setTimeout(r, 2100));
    await expect(verify(`Bearer ${token}`)).rejects.toThrow(/expired/);
  });

  it('checks issuer and audience when configured', async () => {
    const verify = createViewerVerifier({ ...jwt, issuer: 'https://issuer.example', audience: 'junction' });
    const wrong = await mintToken(SECRET, {
      sub: 'usr_0001',
      issuer: 'https://other.example',
      audience: 'junction',
    });
    await expect(verify(`Bearer ${wrong}`)).rejects.toThrow(/claim "iss"/);
    const right = await mintToken(SECRET, {
      sub: 'usr_0001',
      issuer: 'https://issuer.example',
      audience: 'junction',
    });
    expect(await verify(`Bearer ${right}`)).toMatchObject({ id: 'usr_0001', isAdmin: false });
  });
});

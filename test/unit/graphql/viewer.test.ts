// The JWT verifier: claims, the verified-token cache, expiry that the cache cannot outlive, tokens
// that must expire, and the longest lifetime accepted. Time comes from an injected clock.
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { mintToken } from '../../../src/cli/token.js';
import type { Config } from '../../../src/config.js';
import { createViewerVerifier, InvalidTokenError } from '../../../src/graphql/viewer.js';
import { fileSecret, fixedSecret } from '../../../src/secrets.js';

const SECRET = 'unit-test-secret-that-is-long-enough-0123456789';
const jwt: Config['jwt'] = {
  secret: fixedSecret('JWT_SECRET', SECRET),
  jwksUrl: undefined,
  issuer: undefined,
  audience: undefined,
  isDemoSecret: false,
  requireExp: true,
  maxTokenLifetimeSeconds: 86_400,
};

/** A clock that starts at the real time (jose stamps iat with it) and moves only when told. */
function clock() {
  let now = Date.now();
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

/** Signs `claims` as given (no defaults), so tests can leave out exp or set any iat. */
const sign = (claims: Record<string, unknown>) =>
  new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(SECRET));

const nowSeconds = () => Math.floor(Date.now() / 1000);

describe('createViewerVerifier', () => {
  it('reads sub, roles and exp, and answers a repeated token from its cache', async () => {
    const verify = createViewerVerifier(jwt);
    const token = await mintToken(SECRET, { sub: 'usr_0042', admin: true, ttlSeconds: 600 });
    const exp = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).exp as number;
    const first = await verify(`Bearer ${token}`);
    expect(first).toEqual({
      id: 'usr_0042',
      roles: ['admin'],
      isAdmin: true,
      expiresAt: expect.any(Number),
    });
    expect(first?.expiresAt).toBe(exp * 1000);
    expect(await verify(`Bearer ${token}`)).toBe(first); // the same object: not verified twice
    expect(await verify(undefined)).toBeNull();
  });

  it('never accepts a cached token past its exp', async () => {
    const c = clock();
    const verify = createViewerVerifier(jwt, { now: c.now });
    const token = await mintToken(SECRET, { sub: 'usr_0001', ttlSeconds: 2 });
    expect(await verify(`Bearer ${token}`)).toMatchObject({ id: 'usr_0001' });
    c.advance(2_100);
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

  it('refuses a token without exp, saying why; JWT_REQUIRE_EXP=false lets it through', async () => {
    const forever = await sign({ sub: 'usr_0001', roles: ['admin'], iat: nowSeconds() });
    const strict = createViewerVerifier(jwt);
    const refused = await strict(`Bearer ${forever}`).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(InvalidTokenError);
    expect(refused).toMatchObject({
      code: 'UNAUTHENTICATED',
      reason: 'the token has no exp claim; tokens must expire',
    });
    const lenient = createViewerVerifier({ ...jwt, requireExp: false });
    expect(await lenient(`Bearer ${forever}`)).toMatchObject({ id: 'usr_0001', expiresAt: undefined });
  });

  it('refuses a token that lives longer than the maximum, counted from iat or from now', async () => {
    const verify = createViewerVerifier({ ...jwt, maxTokenLifetimeSeconds: 3600 });
    const t = nowSeconds();
    // Exactly the maximum passes (the demo token is minted at exactly 24 h against the 24 h default).
    expect(await verify(`Bearer ${await sign({ sub: 'a', iat: t, exp: t + 3600 })}`)).toMatchObject({
      id: 'a',
    });
    await expect(verify(`Bearer ${await sign({ sub: 'b', iat: t, exp: t + 3601 })}`)).rejects.toMatchObject({
      reason: "the token's lifetime exceeds the accepted maximum of 3600 s",
    });
    // Without iat: exp - now.
    await expect(verify(`Bearer ${await sign({ sub: 'c', exp: t + 7200 })}`)).rejects.toThrow(/lifetime/);
    expect(await verify(`Bearer ${await sign({ sub: 'd', exp: t + 600 })}`)).toMatchObject({ id: 'd' });
    // An iat in the future cannot stretch the usable life: counted from now.
    await expect(
      verify(`Bearer ${await sign({ sub: 'e', iat: t + 86_400, exp: t + 86_400 + 60 })}`),
    ).rejects.toThrow(/lifetime/);
  });

  it('accepts the demo token (24 h) under the default maximum', async () => {
    const verify = createViewerVerifier(jwt);
    const demo = await mintToken(SECRET, { sub: 'usr_0001', admin: true, ttlSeconds: 24 * 3600 });
    expect(await verify(`Bearer ${demo}`)).toMatchObject({ id: 'usr_0001', isAdmin: true });
    const longer = await mintToken(SECRET, { sub: 'usr_0001', ttlSeconds: 24 * 3600 + 60 });
    await expect(verify(`Bearer ${longer}`)).rejects.toThrow(/lifetime/);
  });

  it('bounds the claims it reads: an overlong sub is refused, roles are capped', async () => {
    const verify = createViewerVerifier(jwt);
    const exp = nowSeconds() + 60;
    await expect(verify(`Bearer ${await sign({ sub: 'x'.repeat(256), exp })}`)).rejects.toThrow(/sub claim/);
    const many = Array.from({ length: 200 }, (_, i) => `r${i}`).concat('admin');
    const viewer = await verify(`Bearer ${await sign({ sub: 'usr_0001', roles: many, exp })}`);
    expect(viewer?.roles).toHaveLength(64);
    expect(viewer?.isAdmin).toBe(false); // "admin" came after the cap
  });

  it('accepts tokens signed with a rotated-out secret during its grace, cached or not, and refuses them after', async () => {
    const c = clock();
    const NEW = 'the-new-secret-that-is-long-enough-0123456789';
    const secret = fileSecret({
      variable: 'JWT_SECRET',
      file: '/run/secrets/jwt',
      raw: SECRET,
      value: SECRET,
      graceMs: 3_600_000,
      now: c.now,
    });
    const verify = createViewerVerifier({ ...jwt, secret }, { now: c.now, cacheTtlMs: 24 * 3_600_000 });
    const before = await mintToken(SECRET, { sub: 'usr_old', ttlSeconds: 86_400 });
    expect(await verify(`Bearer ${before}`)).toMatchObject({ id: 'usr_old' }); // now cached
    secret.offer(NEW);
    const after = await mintToken(NEW, { sub: 'usr_new', ttlSeconds: 86_400 });
    expect(await verify(`Bearer ${after}`)).toMatchObject({ id: 'usr_new' });
    expect(await verify(`Bearer ${before}`)).toMatchObject({ id: 'usr_old' });
    const unseen = await mintToken(SECRET, { sub: 'usr_unseen', ttlSeconds: 86_400 });
    expect(await verify(`Bearer ${unseen}`)).toMatchObject({ id: 'usr_unseen' });
    c.advance(3_600_000);
    // The cache holds it for a day, but the secret that verified it is no longer accepted.
    await expect(verify(`Bearer ${before}`)).rejects.toMatchObject({
      reason: 'the signature does not verify',
    });
    await expect(verify(`Bearer ${unseen}`)).rejects.toThrow(InvalidTokenError);
    expect(await verify(`Bearer ${after}`)).toMatchObject({ id: 'usr_new' });
  });
});

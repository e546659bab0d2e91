// tokenEndpoint.ts against a real local server: what a token endpoint answers becomes tokens,
// a refusal (whatever the status), or a typed upstream error; nothing unbounded gets through.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OAuthProviderSpec } from '../../../src/accounts/provider.js';
import { exchangeCode, isTokenRefusedError, refreshTokens } from '../../../src/accounts/tokenEndpoint.js';
import { isUpstreamError } from '../../../src/upstream/errors.js';

let answer: (req: IncomingMessage, body: string, res: ServerResponse) => void;
const server = createServer((req, res) => {
  let body = '';
  req.on('data', (c: Buffer) => (body += c.toString()));
  req.on('end', () => answer(req, body, res));
});
let url = '';
beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
});

const spec = (overrides: Partial<OAuthProviderSpec> = {}): OAuthProviderSpec => ({
  id: 'fake',
  authorizeUrl: `${url}/authorize`,
  tokenUrl: `${url}/token`,
  clientId: 'cid',
  clientSecret: 'csecret',
  redirectUri: 'https://junction.example.com/oauth/fake/callback',
  scopes: [],
  fetchIdentity: async () => ({ externalId: '1', login: 'x' }),
  revoke: async () => {},
  ...overrides,
});
const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
};
const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (e: unknown) => e,
  );

describe('token endpoint', () => {
  it('exchanges a code: form POST with the verifier and client_secret_post, answer read into dates and scopes', async () => {
    let seen: { body: URLSearchParams; headers: IncomingMessage['headers'] } | undefined;
    answer = (req, body, res) => {
      seen = { body: new URLSearchParams(body), headers: req.headers };
      json(res, 200, {
        access_token: 'at',
        token_type: 'bearer',
        expires_in: 28800,
        refresh_token: 'rt',
        refresh_token_expires_in: 10 ** 12, // absurd: clamped to a year
        scope: 'repo,read:user',
      });
    };
    const now = Date.parse('2030-01-01T00:00:00Z');
    const tokens = await exchangeCode(spec(), 'the-code', 'the-verifier', { now: () => now });
    expect(Object.fromEntries(seen!.body)).toEqual({
      grant_type: 'authorization_code',
      code: 'the-code',
      redirect_uri: 'https://junction.example.com/oauth/fake/callback',
      code_verifier: 'the-verifier',
      client_id: 'cid',
      client_secret: 'csecret',
    });
    expect(seen!.headers.accept).toBe('application/json');
    expect(tokens).toEqual({
      accessToken: 'at',
      refreshToken: 'rt',
      accessExpiresAt: new Date(now + 28800 * 1000),
      refreshExpiresAt: new Date(now + 366 * 24 * 3600 * 1000),
      scopes: ['repo', 'read:user'],
    });
  });

  it('with client_secret_basic, sends the credentials in Authorization and not in the body', async () => {
    let seen: { body: URLSearchParams; auth: string | undefined } | undefined;
    answer = (req, body, res) => {
      seen = { body: new URLSearchParams(body), auth: req.headers.authorization };
      json(res, 200, { access_token: 'at2', token_type: 'Bearer' });
    };
    const tokens = await refreshTokens(
      spec({ clientAuth: 'client_secret_basic', clientSecret: 'a:b' }),
      'rt',
    );
    expect(seen!.auth).toBe(`Basic ${Buffer.from('cid:a%3Ab').toString('base64')}`);
    expect(Object.fromEntries(seen!.body)).toEqual({ grant_type: 'refresh_token', refresh_token: 'rt' });
    expect(tokens).toMatchObject({ accessToken: 'at2', refreshToken: undefined, accessExpiresAt: undefined });
  });

  it.each([
    [400, { error: 'invalid_grant', error_description: 'secret detail' }, 'invalid_grant'],
    [200, { error: 'bad_refresh_token', error_description: 'GitHub style' }, 'bad_refresh_token'],
    [401, { error: 'invalid_client' }, 'invalid_client'],
    [400, { error: '<script>alert(1)</script>' }, 'unrecognised_error'],
  ])(
    'a %i answer with an error member is a refusal carrying only its short code',
    async (status, body, code) => {
      answer = (_req, _body, res) => json(res, status, body);
      const error = await failure(refreshTokens(spec(), 'rt'));
      expect(isTokenRefusedError(error) && error.oauthError).toBe(code);
      expect((error as Error).message).not.toContain('detail');
      expect((error as Error).message).not.toContain('style');
    },
  );

  it.each([
    [503, { message: 'down' }, 'UPSTREAM_UNAVAILABLE'],
    [500, { error: 'server_error' }, 'UPSTREAM_UNAVAILABLE'],
    [429, { error: 'slow_down' }, 'UPSTREAM_RATE_LIMITED'],
    [200, { access_token: 'at', token_type: 'mac' }, 'UPSTREAM_BAD_RESPONSE'],
    [200, { access_token: 'x'.repeat(5000), token_type: 'bearer' }, 'UPSTREAM_BAD_RESPONSE'],
    [200, { access_token: 'at', token_type: 'bearer', expires_in: -5 }, 'UPSTREAM_BAD_RESPONSE'],
    [200, 'access_token=at&token_type=bearer', 'UPSTREAM_BAD_RESPONSE'],
    [302, '', 'UPSTREAM_BAD_RESPONSE'],
    [200, { padding: 'x'.repeat(70 * 1024) }, 'UPSTREAM_BAD_RESPONSE'],
  ])('a %i answer %j is the upstream error %s, never tokens', async (status, body, code) => {
    answer = (_req, _body, res) => json(res, status, body);
    const error = await failure(refreshTokens(spec(), 'rt'));
    expect(isUpstreamError(error) && error.code).toBe(code);
    expect(isUpstreamError(error) && error.provider).toBe('fake');
  });

  it('gives up after the timeout with UPSTREAM_TIMEOUT', async () => {
    answer = () => {}; // never answers
    const error = await failure(refreshTokens(spec(), 'rt', { timeoutMs: 100 }));
    expect(isUpstreamError(error) && error.code).toBe('UPSTREAM_TIMEOUT');
  });

  it('an unreachable endpoint is UPSTREAM_UNAVAILABLE', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const error = await failure(refreshTokens(spec({ tokenUrl: `http://127.0.0.1:${port}/token` }), 'rt'));
    expect(isUpstreamError(error) && error.code).toBe('UPSTREAM_UNAVAILABLE');
  });
});

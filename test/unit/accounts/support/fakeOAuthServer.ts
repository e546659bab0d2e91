// A tiny OAuth 2.0 authorization server on a loopback port, strict where real ones are: PKCE S256
// checked at the exchange, single-use codes bound to client and redirect URI, refresh tokens that
// rotate on use, and a reused refresh token revoking the whole grant (as GitHub and others do).
// It records what it was asked, so tests can count refreshes and revocations.
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { OAuthProviderSpec } from '../../../../src/accounts/provider.js';

export interface FakeOAuthOptions {
  /** Access token lifetime it announces, in seconds. Default 3600. */
  accessTtlSeconds?: number;
  /** Refresh token lifetime it announces, in seconds; undefined: none announced. */
  refreshTtlSeconds?: number;
  /** Wait before answering a refresh, in ms (widens the window for races). Default 0. */
  refreshDelayMs?: number;
  /** Answer token errors with 200 and an `error` member, like GitHub. Default false (400). */
  errorsWith200?: boolean;
}

interface Grant {
  login: string;
  externalId: string;
  accessToken: string;
  refreshToken: string;
  /** Every refresh token this grant had: reusing an old one revokes the grant. */
  usedRefreshTokens: Set<string>;
  revoked: boolean;
}

interface PendingCode {
  login: string;
  clientId: string;
  redirectUri: string;
  challenge: string;
  used: boolean;
}

export interface FakeOAuthServer {
  url: string;
  clientId: string;
  clientSecret: string;
  /** Counters of what it was asked. */
  counts: { exchanges: number; refreshes: number; refused: number; revocations: number; userReads: number };
  /** Every access and refresh token it ever issued (to look for them in the database). */
  issued: string[];
  grants: Grant[];
  /** The provider spec for connected accounts, with `redirectUri`. */
  spec(redirectUri?: string, overrides?: Partial<OAuthProviderSpec>): OAuthProviderSpec;
  /**
   * Plays the browser at the consent page: follows `authorizationUrl` and returns the query the
   * provider sends back to the callback (`code` and `state`, or `error` and `state`).
   */
  consent(authorizationUrl: string, as: { login: string; deny?: boolean }): Promise<Record<string, string>>;
  /** The next `n` token requests answer with this HTTP status (transient failures). */
  failTokenRequests(n: number, status: number): void;
  /** Revokes every grant of `login` at the provider (the user removed the app there). */
  revokeUser(login: string): void;
  /** Sets every counter back to 0. */
  resetCounts(): void;
  close(): Promise<void>;
}

export async function startFakeOAuthServer(options: FakeOAuthOptions = {}): Promise<FakeOAuthServer> {
  const clientId = `client_${randomBytes(4).toString('hex')}`;
  const clientSecret = `secret_${randomBytes(16).toString('hex')}`;
  const codes = new Map<string, PendingCode>();
  const grants: Grant[] = [];
  const issued: string[] = [];
  const counts = { exchanges: 0, refreshes: 0, refused: 0, revocations: 0, userReads: 0 };
  let failures: { left: number; status: number } = { left: 0, status: 500 };
  const accessTtl = options.accessTtlSeconds ?? 3600;

  const token = (prefix: string) => {
    const t = `${prefix}_${randomBytes(18).toString('base64url')}`;
    issued.push(t);
    return t;
  };
  const tokenAnswer = (grant: Grant) => ({
    access_token: grant.accessToken,
    token_type: 'bearer',
    expires_in: accessTtl,
    refresh_token: grant.refreshToken,
    ...(options.refreshTtlSeconds ? { refresh_token_expires_in: options.refreshTtlSeconds } : {}),
    scope: 'read:user,repo',
  });
  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const refuse = (res: ServerResponse, error: string) => {
    counts.refused++;
    send(res, options.errorsWith200 ? 200 : 400, { error, error_description: `refused: ${error}` });
  };
  const clientOk = (req: IncomingMessage, form: URLSearchParams) => {
    const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '');
    if (basic) {
      const [id, secret] = Buffer.from(basic[1]!, 'base64').toString().split(':').map(decodeURIComponent);
      return id === clientId && secret === clientSecret;
    }
    return form.get('client_id') === clientId && form.get('client_secret') === clientSecret;
  };

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const form = new URLSearchParams(Buffer.concat(chunks).toString());

    if (req.method === 'GET' && url.pathname === '/authorize') {
      const q = url.searchParams;
      const redirect = new URL(q.get('redirect_uri') ?? '');
      redirect.searchParams.set('state', q.get('state') ?? '');
      if (q.get('deny') === '1') redirect.searchParams.set('error', 'access_denied');
      else if (q.get('client_id') !== clientId || q.get('code_challenge_method') !== 'S256')
        redirect.searchParams.set('error', 'invalid_request');
      else {
        const code = randomBytes(10).toString('hex');
        codes.set(code, {
          login: q.get('login') ?? 'octocat',
          clientId,
          redirectUri: q.get('redirect_uri') ?? '',
          challenge: q.get('code_challenge') ?? '',
          used: false,
        });
        redirect.searchParams.set('code', code);
      }
      res.writeHead(302, { location: redirect.href });
      res.end();
      return;
    }

    if (req.method === 'POST' && url.pathname === '/token') {
      if (failures.left > 0) {
        failures.left--;
        send(res, failures.status, { message: 'unavailable' });
        return;
      }
      if (!clientOk(req, form)) return refuse(res, 'invalid_client');
      const grantType = form.get('grant_type');
      if (grantType === 'authorization_code') {
        counts.exchanges++;
        const pending = codes.get(form.get('code') ?? '');
        if (!pending || pending.used || pending.redirectUri !== form.get('redirect_uri'))
          return refuse(res, 'invalid_grant');
        pending.used = true;
        const challenge = createHash('sha256')
          .update(form.get('code_verifier') ?? '')
          .digest('base64url');
        if (challenge !== pending.challenge) return refuse(res, 'invalid_grant');
        const grant: Grant = {
          login: pending.login,
          externalId: String(1000 + grants.length),
          accessToken: token('at'),
          refreshToken: token('rt'),
          usedRefreshTokens: new Set(),
          revoked: false,
        };
        grants.push(grant);
        return send(res, 200, tokenAnswer(grant));
      }
      if (grantType === 'refresh_token') {
        counts.refreshes++;
        if (options.refreshDelayMs) await new Promise((r) => setTimeout(r, options.refreshDelayMs));
        const presented = form.get('refresh_token') ?? '';
        const reused = grants.find((g) => g.usedRefreshTokens.has(presented));
        if (reused) {
          reused.revoked = true; // reuse of a rotated refresh token: the grant is compromised
          return refuse(res, 'invalid_grant');
        }
        const grant = grants.find((g) => g.refreshToken === presented);
        if (!grant || grant.revoked) return refuse(res, 'invalid_grant');
        grant.usedRefreshTokens.add(presented);
        grant.refreshToken = token('rt');
        grant.accessToken = token('at');
        return send(res, 200, tokenAnswer(grant));
      }
      return refuse(res, 'unsupported_grant_type');
    }

    if (req.method === 'GET' && url.pathname === '/user') {
      counts.userReads++;
      const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      const grant = grants.find((g) => g.accessToken === bearer && !g.revoked);
      if (!grant) return send(res, 401, { message: 'Bad credentials' });
      return send(res, 200, { id: Number(grant.externalId), login: grant.login });
    }

    if (req.method === 'POST' && url.pathname === '/revoke') {
      if (!clientOk(req, form)) return send(res, 401, { error: 'invalid_client' });
      const presented = form.get('token');
      const grant = grants.find((g) => g.accessToken === presented || g.refreshToken === presented);
      if (grant) {
        grant.revoked = true;
        counts.revocations++;
      }
      res.writeHead(200);
      res.end();
      return;
    }
    send(res, 404, { message: 'Not Found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    clientId,
    clientSecret,
    counts,
    issued,
    grants,
    spec(redirectUri = 'http://127.0.0.1:4000/oauth/fake/callback', overrides = {}) {
      return { ...fakeProviderSpec({ url, clientId, clientSecret, redirectUri }), ...overrides };
    },
    async consent(authorizationUrl, as) {
      const target = new URL(authorizationUrl);
      target.searchParams.set('login', as.login);
      if (as.deny) target.searchParams.set('deny', '1');
      const res = await fetch(target, { redirect: 'manual' });
      const location = res.headers.get('location');
      if (res.status !== 302 || !location) throw new Error(`authorize answered ${res.status}`);
      return Object.fromEntries(new URL(location).searchParams);
    },
    failTokenRequests(n, status) {
      failures = { left: n, status };
    },
    resetCounts() {
      for (const name of Object.keys(counts) as (keyof typeof counts)[]) counts[name] = 0;
    },
    revokeUser(login) {
      for (const g of grants) if (g.login === login) g.revoked = true;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The connected-accounts spec of a fake server (also built in child processes from these four values). */
export function fakeProviderSpec(server: {
  url: string;
  clientId: string;
  clientSecret: string;
  redirectUri: string;
}): OAuthProviderSpec {
  const { url, clientId, clientSecret } = server;
  return {
    id: 'fake',
    authorizeUrl: `${url}/authorize`,
    tokenUrl: `${url}/token`,
    clientId,
    clientSecret,
    redirectUri: server.redirectUri,
    scopes: ['read:user', 'repo'],
    async fetchIdentity(accessToken, signal) {
      const res = await fetch(`${url}/user`, { headers: { authorization: `Bearer ${accessToken}` }, signal });
      if (!res.ok) throw new Error(`identity: ${res.status}`);
      const body = (await res.json()) as { id: number; login: string };
      return { externalId: String(body.id), login: body.login };
    },
    async revoke(tokens, signal) {
      const res = await fetch(`${url}/revoke`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          token: tokens.accessToken,
          client_id: clientId,
          client_secret: clientSecret,
        }),
        signal,
      });
      if (!res.ok) throw new Error(`revoke: ${res.status}`);
    },
  };
}

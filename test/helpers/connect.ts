// Connecting a GitHub account the way a browser does, over real sockets: `connectAccount` over HTTP
// (its answer sets the flow's binding cookie), the simulator's authorize URL (auto-approved by the
// harness's simulator, or approved by the test), then Junction's callback with the cookie.
import type { Harness } from './harness.js';

export const CONNECT = `mutation Connect($returnTo: String) {
  connectAccount(provider: GITHUB, returnTo: $returnTo) { authorizationUrl expiresAt }
}`;

export interface BegunFlow {
  authorizationUrl: string;
  /** `name=value` of the binding cookie the answer set. */
  cookie: string;
  /** The whole Set-Cookie header, attributes included. */
  setCookie: string;
}

/** `connectAccount` as `userId`, over HTTP. */
export async function beginConnect(h: Harness, userId: string, returnTo?: string): Promise<BegunFlow> {
  const res = await fetch(`${h.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${await h.token(userId)}` },
    body: JSON.stringify({ query: CONNECT, variables: { returnTo } }),
  });
  const body = (await res.json()) as {
    data?: { connectAccount: { authorizationUrl: string } };
    errors?: unknown;
  };
  if (!body.data) throw new Error(`connectAccount failed: ${JSON.stringify(body.errors)}`);
  const setCookie = res.headers.getSetCookie()[0] ?? '';
  return {
    authorizationUrl: body.data.connectAccount.authorizationUrl,
    cookie: setCookie.split(';')[0] ?? '',
    setCookie,
  };
}

/** The provider's answer to the authorization URL (auto-approved): Junction's callback URL with code and state. */
export async function approve(flow: BegunFlow, login?: string): Promise<string> {
  const url = new URL(flow.authorizationUrl);
  if (login) url.searchParams.set('login', login);
  const res = await fetch(url, { redirect: 'manual' });
  const location = res.headers.get('location');
  if (res.status !== 302 || !location) throw new Error(`authorize answered ${res.status}`);
  return location;
}

/** Junction's callback, with or without the cookie: its status and where it sends the browser. */
export async function callback(url: string, cookie?: string): Promise<{ status: number; location: string }> {
  const res = await fetch(url, { redirect: 'manual', headers: cookie ? { cookie } : {} });
  return { status: res.status, location: res.headers.get('location') ?? '' };
}

/** The whole flow for `userId` as GitHub `login`; resolves to where the browser lands. */
export async function connectGitHub(h: Harness, userId: string, login = 'octo-ada'): Promise<string> {
  const flow = await beginConnect(h, userId);
  const landed = await callback(await approve(flow, login), flow.cookie);
  if (landed.status !== 303 || !landed.location.includes('connected=github'))
    throw new Error(`connection failed: ${landed.status} ${landed.location}`);
  return landed.location;
}

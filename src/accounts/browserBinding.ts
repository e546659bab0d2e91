// Binds an OAuth flow to the browser that began it (RFC 6749 §10.12): `connectAccount` answers with
// a short-lived cookie named after the flow's state and holding it, on the callback's path only;
// the callback completes the flow only when the browser sends it back. A victim lured to an
// attacker's authorization URL has no such cookie, so their account cannot land in the attacker's
// Junction user. httpOnly (no script reads it), SameSite=Lax (sent on the provider's top-level
// redirect back, not on cross-site subrequests), Secure when Junction is served over https.
import { createHash, timingSafeEqual } from 'node:crypto';
import { parseCookie, stringifySetCookie } from 'cookie';

const PREFIX = 'junction_oauth_';
/** States are 43 base64url characters (oauth.ts); anything else never matches. */
const STATE = /^[A-Za-z0-9_-]{43}$/;
/** Longest Cookie header read, in characters: a bound on what a request can make us parse. */
const MAX_COOKIE_HEADER = 8 * 1024;

export interface FlowCookieOptions {
  /** Provider id: the cookie is sent to `/oauth/<provider>/callback` only. */
  provider: string;
  /** Set the Secure attribute (Junction served over https). */
  secure: boolean;
}

/** The cookie's name for a flow: one per flow, so flows begun in two tabs do not overwrite each other. */
export function flowCookieName(state: string): string {
  return `${PREFIX}${createHash('sha256').update(state).digest('hex').slice(0, 16)}`;
}

function attributes(options: FlowCookieOptions) {
  return {
    path: `/oauth/${options.provider}/callback`,
    httpOnly: true,
    sameSite: 'lax' as const,
    secure: options.secure,
  };
}

/** `Set-Cookie` value binding the flow of `state` to this browser for `maxAgeSeconds`. */
export function flowCookie(state: string, maxAgeSeconds: number, options: FlowCookieOptions): string {
  return stringifySetCookie({
    name: flowCookieName(state),
    value: state,
    maxAge: Math.max(1, Math.floor(maxAgeSeconds)),
    ...attributes(options),
  });
}

/** `Set-Cookie` value removing the flow's cookie (the callback uses it up whatever the outcome). */
export function clearedFlowCookie(state: string, options: FlowCookieOptions): string {
  return stringifySetCookie({ name: flowCookieName(state), value: '', maxAge: 0, ...attributes(options) });
}

/** True when the request's Cookie header carries the flow's cookie with the flow's state (constant time). */
export function isBrowserBound(cookieHeader: string | undefined, state: string): boolean {
  if (!STATE.test(state) || cookieHeader === undefined || cookieHeader.length > MAX_COOKIE_HEADER)
    return false;
  const given = parseCookie(cookieHeader)[flowCookieName(state)];
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(state);
  return a.length === b.length && timingSafeEqual(a, b);
}

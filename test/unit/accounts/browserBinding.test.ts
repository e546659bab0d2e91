// The browser binding of an OAuth flow (browserBinding.ts) and the loopback-twin callback URL
// (oauth.ts callbackUrlFor): pure functions, no server.
import { describe, expect, it } from 'vitest';
import {
  clearedFlowCookie,
  flowCookie,
  flowCookieName,
  isBrowserBound,
} from '../../../src/accounts/browserBinding.js';
import { callbackUrlFor } from '../../../src/accounts/oauth.js';

const STATE = 'A'.repeat(43);
const OTHER = 'B'.repeat(43);

describe('flow cookie', () => {
  it('is httpOnly, SameSite=Lax, on the callback path only, Secure over https, named per flow', () => {
    expect(flowCookie(STATE, 600, { provider: 'github', secure: false })).toBe(
      `${flowCookieName(STATE)}=${STATE}; Max-Age=600; Path=/oauth/github/callback; HttpOnly; SameSite=Lax`,
    );
    expect(flowCookie(STATE, 599.7, { provider: 'github', secure: true })).toMatch(/Max-Age=599;.*; Secure/);
    expect(clearedFlowCookie(STATE, { provider: 'github', secure: false })).toMatch(
      new RegExp(`^${flowCookieName(STATE)}=; Max-Age=0; Path=/oauth/github/callback`),
    );
    expect(flowCookieName(STATE)).not.toBe(flowCookieName(OTHER));
    expect(flowCookieName(STATE)).not.toContain(STATE);
  });

  it('binds only the browser that holds this flow’s cookie with this flow’s state', () => {
    const cookie = (name: string, value: string) => `theme=dark; ${name}=${value}; other=1`;
    expect(isBrowserBound(cookie(flowCookieName(STATE), STATE), STATE)).toBe(true);
    expect(isBrowserBound(undefined, STATE)).toBe(false);
    expect(isBrowserBound('theme=dark', STATE)).toBe(false);
    expect(isBrowserBound(cookie(flowCookieName(OTHER), OTHER), STATE)).toBe(false);
    expect(isBrowserBound(cookie(flowCookieName(STATE), OTHER), STATE)).toBe(false);
    expect(isBrowserBound(cookie(flowCookieName('x'), 'x'), 'x')).toBe(false); // not a state at all
    expect(isBrowserBound(`${cookie(flowCookieName(STATE), STATE)}; ${'a=b; '.repeat(2000)}`, STATE)).toBe(
      false,
    );
  });
});

describe('callbackUrlFor', () => {
  const base = 'http://127.0.0.1:4000/oauth/github/callback';
  it('moves the callback to the loopback name the viewer used, and nowhere else', () => {
    expect(callbackUrlFor(base, 'http://localhost:4000')).toBe('http://localhost:4000/oauth/github/callback');
    expect(callbackUrlFor(base, 'http://[::1]:4000')).toBe('http://[::1]:4000/oauth/github/callback');
    expect(callbackUrlFor(base, undefined)).toBe(base);
    expect(callbackUrlFor(base, 'http://evil.example:4000')).toBe(base);
    expect(callbackUrlFor(base, 'http://localhost:4001')).toBe(base);
    expect(callbackUrlFor(base, 'https://localhost:4000')).toBe(base);
    expect(callbackUrlFor(base, 'not a url')).toBe(base);
    const prod = 'https://junction.example.com/oauth/github/callback';
    expect(callbackUrlFor(prod, 'http://localhost')).toBe(prod);
  });
});

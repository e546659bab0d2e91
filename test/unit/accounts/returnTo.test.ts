// returnTo.ts: OAUTH_RETURN_URLS rules, and the check that makes the callback no open redirect.
import { describe, expect, it } from 'vitest';
import { isAccountErrorCode } from '../../../src/accounts/errors.js';
import { checkReturnTo, parseReturnUrlRules, withQuery } from '../../../src/accounts/returnTo.js';

const rules = parseReturnUrlRules('https://app.example.com/settings/, http://localhost:3000');

const refused = (value: string | undefined) => {
  try {
    checkReturnTo(value, rules);
    return false;
  } catch (error) {
    return isAccountErrorCode(error, 'RETURN_URL_NOT_ALLOWED');
  }
};

describe('parseReturnUrlRules', () => {
  it('reads origins and origin+path prefixes', () => {
    expect(rules).toEqual([
      { origin: 'https://app.example.com', pathPrefix: '/settings' },
      { origin: 'http://localhost:3000', pathPrefix: undefined },
    ]);
  });

  it.each([
    'ftp://app.example.com',
    'app.example.com',
    '//app.example.com',
    'https://user:pw@app.example.com',
    'https://app.example.com/?a=1',
    'https://app.example.com/#x',
  ])('refuses %j', (entry) => {
    expect(() => parseReturnUrlRules(entry)).toThrow(/expected http\(s\) origins/);
  });

  it('requires https outside loopback when asked (production)', () => {
    expect(() => parseReturnUrlRules('http://app.example.com', { requireHttps: true })).toThrow(/https/);
    expect(parseReturnUrlRules('http://127.0.0.1:4000/graphql', { requireHttps: true })).toHaveLength(1);
  });

  it('refuses an empty list and more than 32 entries', () => {
    expect(() => parseReturnUrlRules(' , ')).toThrow(/at least one/);
    expect(() =>
      parseReturnUrlRules(Array.from({ length: 33 }, (_, i) => `https://a${i}.example`).join(',')),
    ).toThrow(/at most 32/);
  });
});

describe('checkReturnTo', () => {
  it('accepts URLs under an allowed prefix or origin, normalised', () => {
    expect(checkReturnTo('https://app.example.com/settings', rules)).toBe('https://app.example.com/settings');
    expect(checkReturnTo('https://APP.example.com:443/settings/a?b=1#c', rules)).toBe(
      'https://app.example.com/settings/a?b=1#c',
    );
    expect(checkReturnTo('http://localhost:3000/anything', rules)).toBe('http://localhost:3000/anything');
  });

  it('uses the first rule when returnTo is absent', () => {
    expect(checkReturnTo(undefined, rules)).toBe('https://app.example.com/settings');
    expect(checkReturnTo('', rules)).toBe('https://app.example.com/settings');
    expect(checkReturnTo(null, parseReturnUrlRules('http://localhost:3000'))).toBe('http://localhost:3000/');
  });

  it.each([
    'https://evil.example/settings',
    '//evil.example/settings',
    '/settings',
    'https:evil.example',
    'https://app.example.com@evil.example/settings',
    'https://user@app.example.com/settings',
    'https://evil.example\\@app.example.com/settings',
    'https://app.example.com\\.evil.example/settings',
    'https:/\\evil.example',
    'https://app.example.com.evil.example/settings',
    'http://app.example.com/settings', // scheme is part of the origin
    'https://app.example.com:8443/settings',
    'https://app.example.com/settingsX',
    'https://app.example.com/settings/../admin',
    'https://app.example.com/settings/%2e%2e/admin',
    'https://app.example.com/settings\n',
    ' https://app.example.com/settings',
    'https://app.example.com/set tings',
    'javascript:alert(1)//https://app.example.com/settings',
    'data:text/html,hi',
    `https://app.example.com/settings/${'a'.repeat(2100)}`,
    'http://localhost:3001/',
  ])('refuses %j', (value) => {
    expect(refused(value)).toBe(true);
  });

  it('withQuery adds parameters before the fragment', () => {
    expect(withQuery('https://app.example.com/settings?a=1#top', { connected: 'github' })).toBe(
      'https://app.example.com/settings?a=1&connected=github#top',
    );
  });
});

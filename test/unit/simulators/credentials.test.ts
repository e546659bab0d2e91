// How the simulators read `Authorization`: one parser for bearer tokens and HTTP Basic, shared by all four.
import { describe, expect, it } from 'vitest';
import { basicCredentials, bearerToken } from '../../../src/simulators/shared/credentials.js';

const basic = (text: string) => `Basic ${Buffer.from(text, 'utf8').toString('base64')}`;

describe('bearerToken', () => {
  it('reads the token of a Bearer header, whatever the case of the scheme', () => {
    expect(bearerToken('Bearer sk_test_abc')).toBe('sk_test_abc');
    expect(bearerToken('bearer   tok ')).toBe('tok');
  });

  it('is undefined for no header, another scheme, or a token with spaces', () => {
    expect(bearerToken(undefined)).toBeUndefined();
    expect(bearerToken('')).toBeUndefined();
    expect(bearerToken(basic('user:pass'))).toBeUndefined();
    expect(bearerToken('Bearer two words')).toBeUndefined();
  });
});

describe('basicCredentials', () => {
  it('splits user and password at the first colon', () => {
    expect(basicCredentials(basic('AC123:tok:en'))).toEqual({ user: 'AC123', password: 'tok:en' });
    expect(basicCredentials(basic('sk_test_key:'))).toEqual({ user: 'sk_test_key', password: '' });
  });

  it('without a colon the whole text is the user and the password is undefined', () => {
    expect(basicCredentials(basic('sk_test_key'))).toEqual({ user: 'sk_test_key', password: undefined });
  });

  it('is undefined when the scheme is not Basic', () => {
    expect(basicCredentials(undefined)).toBeUndefined();
    expect(basicCredentials('Bearer abc')).toBeUndefined();
  });
});

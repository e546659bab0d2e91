// The router secret check (federation.ts): exact match only, one header value, bounded length.
import { describe, expect, it } from 'vitest';
import { createRouterSecretCheck } from '../../../src/graphql/federation.js';

const SECRET = 'router-secret-for-the-unit-test-0123456789';

describe('createRouterSecretCheck', () => {
  it('accepts the configured secret and nothing else', () => {
    const isRouter = createRouterSecretCheck(SECRET);
    expect(isRouter(SECRET)).toBe(true);
    expect(isRouter(`${SECRET} `)).toBe(false);
    expect(isRouter(SECRET.slice(0, -1))).toBe(false);
    expect(isRouter('')).toBe(false);
    expect(isRouter(undefined)).toBe(false);
  });

  it('refuses a repeated header, even when one copy is right', () => {
    expect(createRouterSecretCheck(SECRET)([SECRET, SECRET])).toBe(false);
  });

  it('refuses a value longer than any secret may be', () => {
    expect(createRouterSecretCheck(SECRET)('x'.repeat(10_000))).toBe(false);
  });

  it('accepts nothing when no secret is configured', () => {
    const isRouter = createRouterSecretCheck(undefined);
    expect(isRouter('')).toBe(false);
    expect(isRouter(SECRET)).toBe(false);
  });
});

// secrets.ts: a Secret handle's current value, the replaced value within its grace period (an
// injected clock), validation that keeps the old value, and derived views.
import { describe, expect, it, vi } from 'vitest';
import {
  fileSecret,
  fixedSecret,
  isSecret,
  isSecretValueError,
  type SecretValueError,
  toSecret,
} from '../../../src/secrets.js';

function clock(start = 1_000_000) {
  let now = start;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

const longEnough = (text: string) => {
  if (text.length < 8) throw new Error('expected at least 8 characters');
  return text;
};

describe('fixedSecret', () => {
  it('always answers its value, with nothing replaced', () => {
    const s = fixedSecret('STRIPE_SECRET_KEY', 'sk_1');
    expect(s.current()).toBe('sk_1');
    expect(s.previous()).toBeUndefined();
    expect(s.accepted()).toEqual(['sk_1']);
    expect(s.version).toBe(0);
    expect(s.file).toBeUndefined();
    expect(isSecret(s)).toBe(true);
    expect(isSecret('sk_1')).toBe(false);
  });

  it('toSecret wraps a plain value and passes a Secret through', () => {
    const s = fixedSecret('X', 'a');
    expect(toSecret('X', s)).toBe(s);
    expect(toSecret('Y', 'b').current()).toBe('b');
    expect(toSecret('Y', 'b').variable).toBe('Y');
  });
});

describe('fileSecret', () => {
  const make = (c = clock(), graceMs = 60_000) =>
    fileSecret({
      variable: 'WEBHOOK',
      file: '/run/secrets/webhook',
      raw: 'old-secret',
      value: 'old-secret',
      parse: longEnough,
      graceMs,
      now: c.now,
    });

  it('takes a new text, keeps the replaced one for the grace period, then drops it', () => {
    const c = clock();
    const s = make(c);
    const heard: string[] = [];
    s.onChange((changed) => heard.push(changed.current()));
    expect(s.offer('new-secret')).toBe('changed');
    expect(s.current()).toBe('new-secret');
    expect(s.previous()).toBe('old-secret');
    expect(s.accepted()).toEqual(['new-secret', 'old-secret']);
    expect(s.version).toBe(1);
    expect(heard).toEqual(['new-secret']);
    c.advance(59_999);
    expect(s.previous()).toBe('old-secret');
    c.advance(1);
    expect(s.previous()).toBeUndefined();
    expect(s.accepted()).toEqual(['new-secret']);
  });

  it('with no grace, the replaced value is gone at once', () => {
    const s = make(clock(), 0);
    s.offer('new-secret');
    expect(s.accepted()).toEqual(['new-secret']);
  });

  it('ignores the same text again (no change, no listener call)', () => {
    const s = make();
    const listener = vi.fn();
    s.onChange(listener);
    expect(s.offer('old-secret')).toBe('unchanged');
    expect(listener).not.toHaveBeenCalled();
    expect(s.version).toBe(0);
  });

  it('refuses an invalid text, keeps the current value and never echoes the text', () => {
    const s = make();
    let thrown: unknown;
    try {
      s.offer('short');
    } catch (error) {
      thrown = error;
    }
    expect(isSecretValueError(thrown)).toBe(true);
    expect((thrown as SecretValueError).message).toBe('WEBHOOK: expected at least 8 characters');
    expect((thrown as SecretValueError).message).not.toContain('short');
    expect(s.current()).toBe('old-secret');
    expect(s.version).toBe(0);
    // The invalid text is not remembered as seen: fixing the file back to it is not a change either.
    expect(s.offer('old-secret')).toBe('unchanged');
  });

  it('tells every listener even when one throws, then rethrows the failure', () => {
    const s = make();
    const second = vi.fn();
    s.onChange(() => {
      throw new Error('listener failed');
    });
    s.onChange(second);
    expect(() => s.offer('new-secret')).toThrow('listener failed');
    expect(second).toHaveBeenCalledOnce();
    expect(s.current()).toBe('new-secret');
  });
});

describe('Secret.map', () => {
  it('derives once per value, follows changes and the grace period', () => {
    const c = clock();
    const s = fileSecret({
      variable: 'KEY',
      file: '/k',
      raw: 'one-one-one',
      value: 'one-one-one',
      graceMs: 1_000,
      now: c.now,
    });
    const derive = vi.fn((v: string) => ({ header: `Bearer ${v}` }));
    const view = s.map(derive);
    expect(view.current()).toEqual({ header: 'Bearer one-one-one' });
    expect(view.current()).toBe(view.current());
    expect(derive).toHaveBeenCalledTimes(1);
    const heard = vi.fn();
    view.onChange(heard);
    s.offer('two-two-two');
    expect(heard).toHaveBeenCalledWith(view);
    expect(view.accepted().map((v) => v.header)).toEqual(['Bearer two-two-two', 'Bearer one-one-one']);
    expect(derive).toHaveBeenCalledTimes(2);
    expect(view.variable).toBe('KEY');
    expect(view.version).toBe(1);
    c.advance(1_000);
    expect(view.previous()).toBeUndefined();
  });
});

describe('a Secret logged, serialised or inspected', () => {
  it('shows its variable and file, never its value', async () => {
    const { inspect } = await import('node:util');
    const s = fileSecret({
      variable: 'STRIPE_SECRET_KEY',
      file: '/run/k',
      raw: 'sk_live_hidden',
      value: 'sk_live_hidden',
    });
    const config = { stripe: { secretKey: s, view: s.map((v) => `Bearer ${v}`) } };
    for (const shown of [JSON.stringify(config), inspect(config, { depth: 5 }), String(JSON.stringify(s))]) {
      expect(shown).not.toContain('sk_live_hidden');
      expect(shown).toContain('STRIPE_SECRET_KEY');
    }
    expect(JSON.parse(JSON.stringify(s))).toEqual({
      secret: 'STRIPE_SECRET_KEY',
      file: '/run/k',
      value: '[redacted]',
    });
  });
});

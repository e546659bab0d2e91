// crypto.ts: the key ring (format, limits, messages without key material), AES-256-GCM ciphertexts
// that name their key and are bound to their row; demoKey.ts: one demo key per state directory.
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ciphertextKeyId, generateKeyText, KeyRing, parseKeyRing } from '../../../src/accounts/crypto.js';
import { DEMO_KEY_NAME, demoKeyRing } from '../../../src/accounts/demoKey.js';
import { isAccountErrorCode } from '../../../src/accounts/errors.js';
import { DEMO_SECRETS_FILE, openDemoState } from '../../../src/demoState.js';

const key32 = Buffer.alloc(32, 7).toString('base64');
const row = ['connected_accounts', 'usr_1', 'github', 'access_token'];

describe('parseKeyRing', () => {
  it('reads kid:base64key pairs, first first, base64 or base64url', () => {
    const url = Buffer.alloc(32, 0xfb).toString('base64url');
    const keys = parseKeyRing(` new:${key32} , old:${url}`);
    expect(keys.map((k) => k.id)).toEqual(['new', 'old']);
    expect(keys[1]!.key).toEqual(Buffer.alloc(32, 0xfb));
  });

  it.each([
    ['', 'expected at least one key'],
    [`:${key32}`, 'key 1: expected kid:base64key'],
    [`a b:${key32}`, 'key 1: expected kid:base64key'],
    ['k1:c2hvcnQ=', 'key k1: expected 32 bytes'],
    [`k1:${key32}!`, 'key k1: expected 32 bytes'],
    [`k1:${key32},k1:${key32}`, 'key k1: the id appears twice'],
    [Array.from({ length: 17 }, (_, i) => `k${i}:${key32}`).join(','), 'expected at most 16 keys'],
  ])('refuses %j with a message naming the problem, not the key', (text, message) => {
    let error: unknown;
    try {
      parseKeyRing(text);
    } catch (e) {
      error = e;
    }
    expect((error as Error).message).toContain(message);
    expect((error as Error).message).not.toContain(key32);
  });
});

describe('KeyRing', () => {
  const ring = KeyRing.fromText(`k1:${key32}`);

  it('round-trips, names the key in the ciphertext, and never repeats a ciphertext', () => {
    const a = ring.encrypt('gho_secret', row);
    const b = ring.encrypt('gho_secret', row);
    expect(a).toMatch(/^v1\.k1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
    expect(a).not.toBe(b);
    expect(a).not.toContain('gho_secret');
    expect(ciphertextKeyId(a)).toBe('k1');
    expect(ring.decrypt(a, row)).toBe('gho_secret');
  });

  it('does not decrypt under another row or column (authenticated data)', () => {
    const ct = ring.encrypt('gho_secret', row);
    for (const other of [
      ['connected_accounts', 'usr_2', 'github', 'access_token'],
      ['connected_accounts', 'usr_1', 'github', 'refresh_token'],
      ['connected_accounts', 'usr_1', 'gitlab', 'access_token'],
      // Same concatenation, different parts: length prefixes keep them apart.
      ['connected_accounts', 'usr_1g', 'ithub', 'access_token'],
    ]) {
      let error: unknown;
      try {
        ring.decrypt(ct, other);
      } catch (e) {
        error = e;
      }
      expect(isAccountErrorCode(error, 'TOKEN_DECRYPT_FAILED')).toBe(true);
    }
  });

  it('refuses a tampered ciphertext, an unknown key and a foreign format with TOKEN_DECRYPT_FAILED', () => {
    const ct = ring.encrypt('gho_secret', row);
    const parts = ct.split('.');
    const body = Buffer.from(parts[3]!, 'base64url');
    body[0]! ^= 1;
    const tampered = [...parts.slice(0, 3), body.toString('base64url')].join('.');
    const other = KeyRing.fromText(`k2:${Buffer.alloc(32, 9).toString('base64')}`);
    for (const [text, keys, message] of [
      [tampered, ring, 'does not authenticate under key k1'],
      [ct, other, 'encrypted with key k1, which TOKEN_ENCRYPTION_KEYS no longer holds'],
      ['gho_plaintext', ring, 'not in the expected ciphertext format'],
      [`${ct}.x`, ring, 'not in the expected ciphertext format'],
      [`v1.k1.${'A'.repeat(20000)}.x`, ring, 'not in the expected ciphertext format'],
    ] as const) {
      expect(() => keys.decrypt(text, row)).toThrow(message);
    }
  });

  it('rotation: ring "B,A" decrypts A and encrypts under B; ring "B" alone no longer reads A', () => {
    const a = KeyRing.fromText(generateKeyText('A'));
    const textA = `A:${a.primary.key.toString('base64')}`;
    const b = generateKeyText('B');
    const ctA = a.encrypt('tok', row);
    const both = KeyRing.fromText(`${b},${textA}`);
    expect(both.decrypt(ctA, row)).toBe('tok');
    const ctB = both.encrypt('tok', row);
    expect(ciphertextKeyId(ctB)).toBe('B');
    const onlyB = KeyRing.fromText(b);
    expect(onlyB.decrypt(ctB, row)).toBe('tok');
    expect(() => onlyB.decrypt(ctA, row)).toThrow('no longer holds');
  });
});

describe('demoKeyRing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'junction-demo-key-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('generates one key into the demo state (owner-only) and reads the same key afterwards', () => {
    const first = demoKeyRing(openDemoState(join(dir, 'state')));
    const file = join(dir, 'state', DEMO_SECRETS_FILE);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const stored = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
    expect(stored[DEMO_KEY_NAME]).toMatch(/^demo:[A-Za-z0-9+/]{43}=$/);
    const second = demoKeyRing(openDemoState(join(dir, 'state')));
    expect(second.primary.key).toEqual(first.primary.key);
    expect(second.decrypt(first.encrypt('tok', row), row)).toBe('tok');
    expect(demoKeyRing(openDemoState(join(dir, 'other'))).primary.key).not.toEqual(first.primary.key);
  });
});

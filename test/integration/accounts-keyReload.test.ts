// TOKEN_ENCRYPTION_KEYS_FILE rewritten while running: one ConnectedAccounts, its key ring read per use
// from the config's Secret, writes under the new first key at once and still reads rows under the
// old one (the operator lists both until `npm run accounts:reencrypt` has run). On the embedded engine.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EncryptionKey, generateKeyText, KeyRing } from '../../src/accounts/crypto.js';
import { keyUsage } from '../../src/accounts/reencrypt.js';
import { loadConfig } from '../../src/config.js';
import type { FileSecret } from '../../src/secrets.js';
import { createFixture, type Fixture } from '../unit/accounts/support/fixture.js';

const keyA = generateKeyText('A');
const keyB = generateKeyText('B');

describe('a key ring re-read while running', () => {
  let f: Fixture;
  beforeAll(async () => {
    f = await createFixture('pglite', { keys: KeyRing.fromText(keyA) });
  }, 60_000); // a cold PGlite directory takes seconds on a busy machine
  afterAll(async () => {
    await f?.close();
  });

  it('encrypts under the new first key from the change on and still decrypts what the old key wrote', async () => {
    const config = loadConfig({ TOKEN_ENCRYPTION_KEYS_FILE: '/run/secrets/keys' }, () => `${keyA}\n`);
    const secret = config.accounts.encryptionKeys as FileSecret<EncryptionKey[]>;
    const ring = secret.map((keys) => new KeyRing(keys));
    const accounts = f.make({ keys: () => ring.current() });
    const { authorizationUrl } = await accounts.begin('usr_1', 'fake', 'https://app.example.com/settings');
    expect(
      (await accounts.complete('fake', await f.oauth.consent(authorizationUrl, { login: 'one' }))).ok,
    ).toBe(true);
    const before = await accounts.getAccessToken('usr_1', 'fake');
    expect(await keyUsage(accounts.store)).toEqual({ A: 1 });

    secret.offer(`${keyB},${keyA}`);
    const second = await accounts.begin('usr_2', 'fake', 'https://app.example.com/settings');
    expect(
      (await accounts.complete('fake', await f.oauth.consent(second.authorizationUrl, { login: 'two' }))).ok,
    ).toBe(true);
    expect(await keyUsage(accounts.store)).toEqual({ A: 1, B: 1 });
    expect(await accounts.getAccessToken('usr_1', 'fake')).toBe(before);
    // An invalid file leaves the ring as it was.
    expect(() => secret.offer('B:not-a-key')).toThrow(/TOKEN_ENCRYPTION_KEYS/);
    expect(accounts.store.keys.keyIds).toEqual(['B', 'A']);
  });
});

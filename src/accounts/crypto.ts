// Tokens at rest: AES-256-GCM under a key ring. The first key encrypts, every key decrypts, and
// each ciphertext names the key that made it, so keys rotate without downtime: put the new key
// first, run `npm run accounts:reencrypt`, then drop the old one. The additional authenticated
// data binds a ciphertext to its row and column, so one copied elsewhere does not decrypt.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { AccountError } from './errors.js';

/** One key of the ring: an id written into every ciphertext, and 32 bytes of key. */
export interface EncryptionKey {
  readonly id: string;
  readonly key: Buffer;
}

/** Key ids: short, and free of the separators of the key list and of the ciphertext format. */
const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;
/** At most this many keys in a ring: rotation needs two, a few more are slack. */
export const MAX_KEYS = 16;
const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const FORMAT = 'v1';
/** Longest ciphertext accepted for decryption (a token of 8 KiB, encoded): bounds what a row can make us do. */
const MAX_CIPHERTEXT_LENGTH = 16 * 1024;

/**
 * Parses `kid1:base64key,kid2:base64key` (base64 or base64url, 32 bytes each; the first encrypts).
 * Throws a TypeError whose message names the problem and the key's position or id, never key material.
 */
export function parseKeyRing(text: string): EncryptionKey[] {
  const parts = text
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
  if (parts.length === 0) throw new TypeError('expected at least one key as kid:base64key');
  if (parts.length > MAX_KEYS) throw new TypeError(`expected at most ${MAX_KEYS} keys, got ${parts.length}`);
  const keys: EncryptionKey[] = [];
  parts.forEach((part, index) => {
    const colon = part.indexOf(':');
    const id = colon > 0 ? part.slice(0, colon) : '';
    if (!KEY_ID.test(id))
      throw new TypeError(
        `key ${index + 1}: expected kid:base64key with a kid of 1..32 letters, digits, _ or -`,
      );
    const encoded = part.slice(colon + 1);
    const key = /^[A-Za-z0-9+/_-]+={0,2}$/.test(encoded) ? Buffer.from(encoded, 'base64') : Buffer.alloc(0);
    if (key.length !== KEY_BYTES)
      throw new TypeError(`key ${id}: expected ${KEY_BYTES} bytes in base64 (44 characters)`);
    if (keys.some((k) => k.id === id)) throw new TypeError(`key ${id}: the id appears twice`);
    keys.push({ id, key });
  });
  return keys;
}

/** A fresh key in the TOKEN_ENCRYPTION_KEYS format, e.g. for `kid:...` in a secret store or demo mode. */
export function generateKeyText(id: string): string {
  if (!KEY_ID.test(id)) throw new TypeError(`key id: expected 1..32 letters, digits, _ or -, got ${id}`);
  return `${id}:${randomBytes(KEY_BYTES).toString('base64')}`;
}

/** Where a ciphertext belongs: table, row and column. Part of the AEAD's authenticated data. */
export type CipherContext = readonly string[];

export class KeyRing {
  private readonly byId: ReadonlyMap<string, EncryptionKey>;
  /** The key new ciphertexts are made with. */
  readonly primary: EncryptionKey;

  constructor(keys: readonly EncryptionKey[]) {
    const first = keys[0];
    if (!first) throw new TypeError('KeyRing: expected at least one key');
    this.primary = first;
    this.byId = new Map(keys.map((k) => [k.id, k]));
  }

  static fromText(text: string): KeyRing {
    return new KeyRing(parseKeyRing(text));
  }

  /** The key ids, primary first. */
  get keyIds(): string[] {
    return [...this.byId.keys()];
  }

  /** `v1.<kid>.<nonce>.<ciphertext+tag>` (base64url parts), bound to `context`. */
  encrypt(plaintext: string, context: CipherContext): string {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.primary.key, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(aad(this.primary.id, context));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `${FORMAT}.${this.primary.id}.${nonce.toString('base64url')}.${body.toString('base64url')}`;
  }

  /** The plaintext, or AccountError TOKEN_DECRYPT_FAILED (unknown key, wrong context, tampered). */
  decrypt(ciphertext: string, context: CipherContext): string {
    const parsed = parseCiphertext(ciphertext);
    const key = parsed && this.byId.get(parsed.keyId);
    if (!parsed || !key)
      throw new AccountError(
        'TOKEN_DECRYPT_FAILED',
        parsed
          ? `a stored token was encrypted with key ${parsed.keyId}, which TOKEN_ENCRYPTION_KEYS no longer holds`
          : 'a stored token is not in the expected ciphertext format',
      );
    try {
      const decipher = createDecipheriv('aes-256-gcm', key.key, parsed.nonce, { authTagLength: TAG_BYTES });
      decipher.setAAD(aad(key.id, context));
      decipher.setAuthTag(parsed.body.subarray(parsed.body.length - TAG_BYTES));
      const text = Buffer.concat([
        decipher.update(parsed.body.subarray(0, parsed.body.length - TAG_BYTES)),
        decipher.final(),
      ]);
      return text.toString('utf8');
    } catch (error) {
      throw new AccountError(
        'TOKEN_DECRYPT_FAILED',
        `a stored token does not authenticate under key ${key.id} (altered, or moved from another row)`,
        { cause: error },
      );
    }
  }
}

/** The key id a ciphertext names, or undefined when it is not one of ours. */
export function ciphertextKeyId(ciphertext: string): string | undefined {
  return parseCiphertext(ciphertext)?.keyId;
}

function parseCiphertext(text: string): { keyId: string; nonce: Buffer; body: Buffer } | undefined {
  if (text.length > MAX_CIPHERTEXT_LENGTH) return undefined;
  const parts = text.split('.');
  if (parts.length !== 4 || parts[0] !== FORMAT) return undefined;
  const [, keyId = '', nonceText = '', bodyText = ''] = parts;
  if (!KEY_ID.test(keyId)) return undefined;
  const nonce = Buffer.from(nonceText, 'base64url');
  const body = Buffer.from(bodyText, 'base64url');
  if (nonce.length !== NONCE_BYTES || body.length < TAG_BYTES) return undefined;
  return { keyId, nonce, body };
}

function aad(keyId: string, context: CipherContext): Buffer {
  // Length-prefixed parts: ("a", "bc") and ("ab", "c") never give the same bytes.
  const parts = ['junction.accounts', FORMAT, keyId, ...context];
  return Buffer.concat(
    parts.map((p) => {
      const bytes = Buffer.from(p, 'utf8');
      const length = Buffer.alloc(4);
      length.writeUInt32BE(bytes.length);
      return Buffer.concat([length, bytes]);
    }),
  );
}

// Demo mode's token encryption key: generated once per checkout into the git-ignored demo-state
// directory (JUNCTION_STATE_DIR, default `.junction/`), so tokens stored by one run decrypt in the
// next. Never used in production, where TOKEN_ENCRYPTION_KEYS is required.
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyText, KeyRing } from './crypto.js';

/** The file, under the demo-state directory, holding the demo key ring (TOKEN_ENCRYPTION_KEYS format). */
export const DEMO_KEY_FILE = 'token-encryption-keys';

/**
 * The demo key ring kept in `stateDir`, created on first use. Concurrent first uses from several
 * processes agree on one key: the file appears whole through a hard link, which fails if it exists.
 */
export function demoKeyRing(stateDir: string): KeyRing {
  const file = join(stateDir, DEMO_KEY_FILE);
  const existing = readIfPresent(file);
  if (existing !== undefined) return KeyRing.fromText(existing);
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const temporary = `${file}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(temporary, `${generateKeyText('demo')}\n`, { mode: 0o600 });
  try {
    linkSync(temporary, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    // Another process won the race: its key is the one.
  } finally {
    unlinkSync(temporary);
  }
  return KeyRing.fromText(readFileSync(file, 'utf8'));
}

function readIfPresent(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

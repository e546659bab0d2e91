// Demo mode's token encryption key: generated once per checkout into the demo state (JUNCTION_STATE_DIR,
// default `.junction/demo-secrets.json`, beside the demo JWT secret), so tokens stored by one run
// decrypt in the next. Never used in production, where TOKEN_ENCRYPTION_KEYS is required.
import { generateKeyText, KeyRing } from './crypto.js';

/** The name the demo key ring is kept under in the demo state (TOKEN_ENCRYPTION_KEYS format). */
export const DEMO_KEY_NAME = 'tokenEncryptionKeys';

/** What the demo state offers (demoState.ts): a value generated once and read back afterwards. */
export interface DemoValues {
  getOrCreate(name: string, generate: () => string): string;
}

/**
 * The demo key ring kept in `state`, created on first use. Concurrent first uses from several
 * processes agree on one key (the demo state serialises its writers).
 */
export function demoKeyRing(state: DemoValues): KeyRing {
  return KeyRing.fromText(state.getOrCreate(DEMO_KEY_NAME, () => generateKeyText('demo')));
}

// Demo mode's own secrets (today the client-JWT signing secret), generated once per checkout and
// kept in a git-ignored file, so no secret lives in the source and a restart or `npm run token`
// sees the same values. Never used in production.
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The file under the state directory that holds the demo secrets, a JSON object of strings. */
export const DEMO_SECRETS_FILE = 'demo-secrets.json';

/** Names of stored values: short identifiers. */
const NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
/** Longest stored value accepted when reading the file back. */
const MAX_VALUE_LENGTH = 4096;
/** A lock file older than this was left by a process that died while writing: taken over. */
const STALE_LOCK_MS = 10_000; // 10 s
/** Longest wait for another process's lock before giving up. */
const LOCK_WAIT_MS = 5_000; // 5 s

/** The demo state cannot be read or written; `message` names the file and what to do. */
export class DemoStateError extends Error {
  readonly code = 'DEMO_STATE_UNUSABLE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DemoStateError';
  }
}

export function isDemoStateError(error: unknown): error is DemoStateError {
  return error instanceof DemoStateError;
}

export interface DemoState {
  /** The directory holding the state (created 0700 on first write). */
  readonly dir: string;
  /** The secrets file (created 0600 on first write). */
  readonly file: string;
  /**
   * The value stored under `name`; on first use, `generate()`'s value, written to the file once.
   * Concurrent first uses from several processes agree on one value (a lock file serialises writers).
   */
  getOrCreate(name: string, generate: () => string): string;
}

/**
 * Where demo state lives: `JUNCTION_STATE_DIR` when set, else `.junction/` at the checkout root
 * (beside `src/` and `dist/`, already in .gitignore), whatever the working directory.
 */
export function demoStateDir(env: Record<string, string | undefined> = process.env): string {
  const given = env.JUNCTION_STATE_DIR;
  if (given !== undefined && given.trim() !== '') return resolve(given);
  return fileURLToPath(new URL('../.junction/', import.meta.url));
}

/** A random secret for demo use: 32 random bytes, base64url (43 characters). */
export function generateDemoSecret(): string {
  return randomBytes(32).toString('base64url');
}

export function openDemoState(dir: string = demoStateDir()): DemoState {
  const file = join(dir, DEMO_SECRETS_FILE);
  const lockFile = `${file}.lock`;

  const read = (): Record<string, string> => {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw new DemoStateError(`cannot read ${file}: ${(error as Error).message}`, { cause: error });
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw new DemoStateError(`${file} is not JSON; delete it to generate new demo secrets`, {
        cause: error,
      });
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      throw new DemoStateError(`${file} is not a JSON object; delete it to generate new demo secrets`);
    const entries = Object.entries(value);
    for (const [, v] of entries) {
      if (typeof v !== 'string' || v.length === 0 || v.length > MAX_VALUE_LENGTH)
        throw new DemoStateError(
          `${file} holds a value that is not a short string; delete it to generate new demo secrets`,
        );
    }
    tightenMode(file);
    return Object.fromEntries(entries) as Record<string, string>;
  };

  const withLock = <T>(run: () => T): T => {
    const started = Date.now();
    for (;;) {
      try {
        closeSync(openSync(lockFile, 'wx', 0o600));
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST')
          throw new DemoStateError(`cannot write in ${dir}: ${(error as Error).message}`, { cause: error });
        if (lockAgeMs(lockFile) > STALE_LOCK_MS) {
          unlinkQuietly(lockFile);
          continue;
        }
        if (Date.now() - started > LOCK_WAIT_MS)
          throw new DemoStateError(`${lockFile} is held by another process; remove it if none is running`);
        sleepSync(20);
      }
    }
    try {
      return run();
    } finally {
      unlinkQuietly(lockFile);
    }
  };

  return {
    dir,
    file,
    getOrCreate(name, generate) {
      if (!NAME.test(name)) throw new TypeError(`demo state name: expected an identifier, got ${name}`);
      const known = read()[name];
      if (known !== undefined) return known;
      try {
        mkdirSync(dir, { recursive: true, mode: 0o700 });
      } catch (error) {
        throw new DemoStateError(`cannot create ${dir}: ${(error as Error).message}`, { cause: error });
      }
      return withLock(() => {
        const current = read(); // another process may have written it while we waited
        const existing = current[name];
        if (existing !== undefined) return existing;
        const value = generate();
        const temporary = `${file}.${process.pid}.tmp`;
        try {
          writeFileSync(temporary, `${JSON.stringify({ ...current, [name]: value }, null, 2)}\n`, {
            mode: 0o600,
          });
          renameSync(temporary, file); // readers see the old file or the new one, never half of one
        } catch (error) {
          unlinkQuietly(temporary);
          throw new DemoStateError(`cannot write ${file}: ${(error as Error).message}`, { cause: error });
        }
        return value;
      });
    },
  };
}

/** Secrets readable by others are made owner-only (a copy made with a loose umask, say). */
function tightenMode(file: string): void {
  try {
    if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
  } catch {
    // Best effort: a read-only checkout still works.
  }
}

function lockAgeMs(path: string): number {
  try {
    return Date.now() - statSync(path).mtimeMs;
  } catch {
    return Number.POSITIVE_INFINITY; // gone already: try again at once
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone.
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

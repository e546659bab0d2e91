// Secrets that may change while Junction runs. A `Secret` is a handle: consumers read `current()`
// when they need the value (per request), never copy it at startup, so a rotated file takes effect
// for the next request while requests in flight finish with what they read. Inbound verifiers
// (webhook signatures, client JWTs) also accept `previous()` for a grace period after a change.
// Watching the files is SecretFiles' job (secretFiles.ts); this module holds no I/O.

import { inspect } from 'node:util';

const SECRET = Symbol('junction.secret');

/** What a Secret shows of itself when logged, serialised or inspected: never its value. */
function redacted(secret: Secret<unknown>) {
  return { secret: secret.variable, ...(secret.file ? { file: secret.file } : {}), value: '[redacted]' };
}

/** Why an offered value was not taken. Messages name the variable, never the value. */
export class SecretValueError extends Error {
  readonly code = 'SECRET_INVALID';
  constructor(
    readonly variable: string,
    readonly problem: string,
  ) {
    super(`${variable}: ${problem}`);
    this.name = 'SecretValueError';
  }
}

export function isSecretValueError(error: unknown): error is SecretValueError {
  return error instanceof SecretValueError;
}

export interface Secret<T = string> {
  readonly [SECRET]: true;
  /** The environment variable it comes from, e.g. `STRIPE_SECRET_KEY` (safe to log). */
  readonly variable: string;
  /** The file it is read from (`<variable>_FILE`), or undefined for a value given directly. */
  readonly file: string | undefined;
  /** Changes taken so far; 0 until the first one. */
  readonly version: number;
  /** The value to use now. */
  current(): T;
  /** The value replaced by the last change, while its grace period runs; otherwise undefined. */
  previous(): T | undefined;
  /** `current()`, then `previous()` when there is one: what an inbound verifier accepts. */
  accepted(): T[];
  /** Calls `listener` after each change; returns the unsubscribe function. */
  onChange(listener: (secret: Secret<T>) => void): () => void;
  /**
   * A view of this secret through `fn` (memoised per value): a key object built from a key text, a
   * list with a fixed member added. Changes and the grace period are the source's.
   */
  map<U>(fn: (value: T) => U): Secret<U>;
}

export function isSecret(value: unknown): value is Secret<unknown> {
  return typeof value === 'object' && value !== null && SECRET in value;
}

/** A value given either as is (tests, simulators in demo mode) or as a Secret handle. */
export type SecretInput<T> = T | Secret<T>;

/** The Secret for `input`: itself when it already is one, else a fixed Secret named `variable`. */
export function toSecret<T>(variable: string, input: SecretInput<T>): Secret<T> {
  return isSecret(input) ? (input as Secret<T>) : fixedSecret(variable, input as T);
}

/** A value that never changes: given directly in the environment, generated for the demo, or in tests. */
export function fixedSecret<T>(variable: string, value: T): Secret<T> {
  return new SourceSecret<T>({ variable, value, file: undefined, raw: undefined });
}

export interface FileSecretOptions<T> {
  variable: string;
  /** Path of the file (`<variable>_FILE`). */
  file: string;
  /** The file's text as read at startup (trimmed), already validated into `value`. */
  raw: string;
  value: T;
  /**
   * Validates a new text (already trimmed) into a value, throwing an Error whose message names the
   * problem (never the value). Default: any non-empty text.
   */
  parse?: ((text: string) => T) | undefined;
  /** How long the replaced value stays `previous()` after a change, in ms. Default 0 (not at all). */
  graceMs?: number | undefined;
  /** Clock for the grace period, in epoch ms. Default Date.now. */
  now?: (() => number) | undefined;
}

/** A secret read from a file; `SecretFiles` offers it the file's text again when the file may have changed. */
export function fileSecret<T>(options: FileSecretOptions<T>): FileSecret<T> {
  return new SourceSecret<T>(options) as FileSecret<T>;
}

/** What became of a text offered to a file secret. */
export type OfferOutcome = 'unchanged' | 'changed' | 'invalid';

export interface FileSecret<T = string> extends Secret<T> {
  readonly file: string;
  /**
   * Offers the file's current text (trimmed). A text equal to the last one taken changes nothing;
   * an invalid one keeps the current value and throws SecretValueError.
   */
  offer(text: string): OfferOutcome;
}

interface SourceOptions<T> {
  variable: string;
  value: T;
  file: string | undefined;
  raw: string | undefined;
  parse?: ((text: string) => T) | undefined;
  graceMs?: number | undefined;
  now?: (() => number) | undefined;
}

class SourceSecret<T> implements Secret<T> {
  readonly [SECRET] = true as const;
  readonly variable: string;
  readonly file: string | undefined;
  private value: T;
  private raw: string | undefined;
  private replaced: { value: T; until: number } | undefined;
  private changes = 0;
  private readonly listeners = new Set<(secret: Secret<T>) => void>();
  private readonly parse: (text: string) => T;
  private readonly graceMs: number;
  private readonly now: () => number;

  constructor(options: SourceOptions<T>) {
    this.variable = options.variable;
    this.file = options.file;
    this.value = options.value;
    this.raw = options.raw;
    this.parse = options.parse ?? ((text) => nonEmpty(text) as T);
    this.graceMs = Math.max(0, options.graceMs ?? 0);
    this.now = options.now ?? Date.now;
  }

  get version(): number {
    return this.changes;
  }

  current(): T {
    return this.value;
  }

  previous(): T | undefined {
    if (this.replaced === undefined) return undefined;
    if (this.now() < this.replaced.until) return this.replaced.value;
    this.replaced = undefined; // expired: drop the reference to the old value
    return undefined;
  }

  accepted(): T[] {
    const previous = this.previous();
    return previous === undefined ? [this.value] : [this.value, previous];
  }

  onChange(listener: (secret: Secret<T>) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  map<U>(fn: (value: T) => U): Secret<U> {
    return new MappedSecret(this, fn);
  }

  toJSON() {
    return redacted(this);
  }

  [inspect.custom]() {
    return redacted(this);
  }

  offer(text: string): OfferOutcome {
    if (text === this.raw) return 'unchanged';
    let next: T;
    try {
      next = this.parse(text);
    } catch (error) {
      throw new SecretValueError(this.variable, error instanceof Error ? error.message : 'invalid value');
    }
    this.raw = text;
    const old = this.value;
    this.value = next;
    this.replaced = this.graceMs > 0 ? { value: old, until: this.now() + this.graceMs } : undefined;
    this.changes += 1;
    // Every listener hears of the change even when one of them fails; the first failure is rethrown.
    let failure: unknown;
    for (const listener of this.listeners) {
      try {
        listener(this);
      } catch (error) {
        failure ??= error;
      }
    }
    if (failure !== undefined) throw failure;
    return 'changed';
  }
}

/** A derived view: `fn` runs once per distinct source value, not per read. */
class MappedSecret<S, T> implements Secret<T> {
  readonly [SECRET] = true as const;
  private readonly memo = new Map<S, T>();

  constructor(
    private readonly source: Secret<S>,
    private readonly fn: (value: S) => T,
  ) {}

  get variable(): string {
    return this.source.variable;
  }
  get file(): string | undefined {
    return this.source.file;
  }
  get version(): number {
    return this.source.version;
  }

  current(): T {
    return this.view(this.source.current());
  }

  previous(): T | undefined {
    const previous = this.source.previous();
    return previous === undefined ? undefined : this.view(previous);
  }

  accepted(): T[] {
    return this.source.accepted().map((v) => this.view(v));
  }

  onChange(listener: (secret: Secret<T>) => void): () => void {
    return this.source.onChange(() => listener(this));
  }

  map<U>(fn: (value: T) => U): Secret<U> {
    return new MappedSecret(this, fn);
  }

  toJSON() {
    return redacted(this);
  }

  [inspect.custom]() {
    return redacted(this);
  }

  private view(value: S): T {
    let mapped = this.memo.get(value);
    if (mapped === undefined && !this.memo.has(value)) {
      mapped = this.fn(value);
      // Only the current and the previous value are ever asked for: forget the rest.
      const keep = new Set(this.source.accepted());
      for (const key of this.memo.keys()) if (!keep.has(key)) this.memo.delete(key);
      this.memo.set(value, mapped);
    }
    return mapped as T;
  }
}

function nonEmpty(text: string): string {
  if (text.length === 0) throw new Error('the file is empty');
  return text;
}

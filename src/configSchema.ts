// Declarative configuration. A section lists its environment variables once: name, parser, range,
// default and one line saying what it does. That one list gives the section's type, its defaults,
// its validation messages (naming the variable, never echoing a secret) and its rows of the README's
// configuration table, so none of them can drift from the others.
import { fileSecret, fixedSecret, isSecret, type Secret } from './secrets.js';

export type Env = Record<string, string | undefined>;

/** What a default may depend on. */
export interface DefaultContext {
  isProduction: boolean;
}

/** A parsed value, or a refusal (with `detail` replacing the generic "expected ..." when given). */
export type ParseResult<T> = { ok: true; value: T } | { ok: false; detail?: string };

/** Which grace period a rotated secret's old value keeps being accepted for. */
export type GraceKind = 'none' | 'webhook' | 'jwt';

/** One environment variable. */
export interface Variable<T> {
  /** The environment variable, e.g. `UPSTREAM_TIMEOUT_MS`. */
  readonly name: string;
  /** One line for people: what it does (and its unit). Rendered in the README. */
  readonly doc: string;
  /** The default as the README shows it, e.g. "`5000` ms" or "unset". */
  readonly defaultDoc: string;
  /** What a valid value looks like, for messages: "milliseconds 1..60000". */
  readonly expected: string;
  /** Secrets may come from `<NAME>_FILE` and are never echoed in messages. */
  readonly secret: boolean;
  parse(raw: string): ParseResult<T>;
  defaultValue(ctx: DefaultContext): T;
  /**
   * Set on secrets delivered as `Secret` handles (rotating): `inner` parses the text, and when the
   * value comes from `<NAME>_FILE` the handle re-reads it while Junction runs (secretFiles.ts).
   */
  readonly rotation?: { readonly grace: GraceKind; readonly inner: Variable<unknown> } | undefined;
}

/** A section: named variables. */
export type Fields = Record<string, Variable<unknown>>;
export type Values<F extends Fields> = { [K in keyof F]: F[K] extends Variable<infer T> ? T : never };

type DefaultOf<T> = T | ((ctx: DefaultContext) => T);

interface Common<T> {
  doc: string;
  /** Default value, or a function of the mode. Omitted: the variable is optional (undefined). */
  default?: DefaultOf<T>;
  /** How the README shows the default; derived from `default` when it is a plain value. */
  defaultDoc?: string;
}

function render(value: unknown, unit?: string): string {
  if (value === undefined) return 'unset';
  return `\`${String(value)}\`${unit ? ` ${unit}` : ''}`;
}

function build<T>(
  name: string,
  common: Common<T>,
  expected: string,
  parse: (raw: string) => ParseResult<T>,
  extra: { secret?: boolean; unit?: string } = {},
): Variable<T> {
  if (!/^[A-Z][A-Z0-9_]*$/.test(name)) {
    throw new TypeError(`config variable names are UPPER_SNAKE_CASE, got ${JSON.stringify(name)}`);
  }
  const fallback = common.default;
  const defaultDoc =
    common.defaultDoc ??
    (typeof fallback === 'function' ? undefined : render(fallback, extra.unit ?? undefined));
  if (defaultDoc === undefined) {
    throw new TypeError(`${name}: a default that depends on the mode needs a defaultDoc for the README`);
  }
  return {
    name,
    doc: common.doc,
    defaultDoc,
    expected,
    secret: extra.secret ?? false,
    parse,
    defaultValue: (ctx) =>
      (typeof fallback === 'function' ? (fallback as (c: DefaultContext) => T)(ctx) : fallback) as T,
  };
}

interface RangeOptions<T> extends Common<T> {
  min: number;
  max: number;
  /** Unit shown in the README (`ms`, `s`, `bytes`); messages spell it out. */
  unit?: string;
  /** What a valid value looks like, for messages; default from the unit and range. */
  expected?: string;
}

const UNIT_WORDS: Record<string, string> = { ms: 'milliseconds', s: 'seconds' };
const unitWord = (unit: string) => UNIT_WORDS[unit] ?? unit;

const INTEGER = /^-?\d+$/;
const DECIMAL = /^-?\d+(\.\d+)?$/;

/** An integer within [min, max] (both checked at startup, with the variable named). */
export function integer(
  name: string,
  o: RangeOptions<number> & { default: DefaultOf<number> },
): Variable<number>;
export function integer(name: string, o: RangeOptions<number | undefined>): Variable<number | undefined>;
export function integer(name: string, o: RangeOptions<number | undefined>): Variable<number | undefined> {
  const what =
    o.expected ?? (o.unit ? `${unitWord(o.unit)} ${o.min}..${o.max}` : `an integer ${o.min}..${o.max}`);
  return build<number | undefined>(
    name,
    o,
    what,
    (raw) => {
      const t = raw.trim();
      if (!INTEGER.test(t)) return { ok: false };
      const n = Number(t);
      return Number.isSafeInteger(n) && n >= o.min && n <= o.max ? { ok: true, value: n } : { ok: false };
    },
    { unit: o.unit },
  );
}

/** A number within [min, max]; `exclusiveMin` makes the lower bound strict. */
export function decimal(
  name: string,
  o: RangeOptions<number> & { exclusiveMin?: boolean },
): Variable<number> {
  const what = o.expected ?? `a number ${o.exclusiveMin ? `in (${o.min}, ${o.max}]` : `${o.min}..${o.max}`}`;
  return build<number>(
    name,
    o,
    what,
    (raw) => {
      const t = raw.trim();
      if (!DECIMAL.test(t)) return { ok: false };
      const n = Number(t);
      const aboveMin = o.exclusiveMin ? n > o.min : n >= o.min;
      return aboveMin && n <= o.max ? { ok: true, value: n } : { ok: false };
    },
    { unit: o.unit },
  );
}

const TRUE = new Set(['true', '1', 'yes']);
const FALSE = new Set(['false', '0', 'no']);

export function flag(name: string, o: Common<boolean>): Variable<boolean> {
  return build<boolean>(name, o, 'true or false', (raw) => {
    const t = raw.trim().toLowerCase();
    if (TRUE.has(t)) return { ok: true, value: true };
    if (FALSE.has(t)) return { ok: true, value: false };
    return { ok: false };
  });
}

export function oneOf<const V extends string>(name: string, values: readonly V[], o: Common<V>): Variable<V> {
  const what =
    values.length <= 2
      ? values.join(' or ')
      : `one of ${values.slice(0, -1).join(', ')} or ${values[values.length - 1]}`;
  return build<V>(name, o, what, (raw) => {
    const t = raw.trim() as V;
    return values.includes(t) ? { ok: true, value: t } : { ok: false };
  });
}

interface TextOptions<T> extends Common<T> {
  /** Shortest accepted value. Default 1. */
  minLength?: number;
  maxLength?: number;
  pattern?: RegExp;
  /** What a valid value looks like, for messages. Default "a string". */
  expected?: string;
}

export function text(name: string, o: TextOptions<string> & { default: DefaultOf<string> }): Variable<string>;
export function text(name: string, o: TextOptions<string | undefined>): Variable<string | undefined>;
export function text(name: string, o: TextOptions<string | undefined>): Variable<string | undefined> {
  return build<string | undefined>(name, o, o.expected ?? 'a string', (raw) => {
    const min = o.minLength ?? 1;
    if (raw.length < min || (o.maxLength !== undefined && raw.length > o.maxLength)) return { ok: false };
    if (o.pattern && !o.pattern.test(raw)) return { ok: false };
    return { ok: true, value: raw };
  });
}

/** An http(s) URL (or another scheme list), kept as the string given. */
export function url(
  name: string,
  o: Common<string> & { default: DefaultOf<string>; protocols?: readonly string[] },
): Variable<string>;
export function url(
  name: string,
  o: Common<string | undefined> & { protocols?: readonly string[] },
): Variable<string | undefined>;
export function url(
  name: string,
  o: Common<string | undefined> & { protocols?: readonly string[] },
): Variable<string | undefined> {
  const protocols = o.protocols ?? ['http', 'https'];
  const what = o.protocols ? `a ${protocols.join(' or ')} URL` : 'an http(s) URL';
  return build<string | undefined>(name, o, what, (raw) => {
    const t = raw.trim();
    try {
      const parsed = new URL(t);
      return protocols.includes(parsed.protocol.slice(0, -1)) ? { ok: true, value: t } : { ok: false };
    } catch {
      return { ok: false };
    }
  });
}

/**
 * A secret: may come from `<NAME>_FILE`, is never echoed, and its length (in bytes, or characters
 * with `unit: 'characters'`) must be within [min, max].
 */
export function secret(
  name: string,
  o: Common<string | undefined> & {
    min?: number;
    max?: number;
    unit?: 'bytes' | 'characters';
    expected?: string;
  },
): Variable<string | undefined> {
  const min = o.min ?? 1;
  const unit = o.unit ?? 'bytes';
  const what = o.expected ?? `${o.max ? `${min}..${o.max}` : `at least ${min}`} ${unit}`;
  return build<string | undefined>(
    name,
    o,
    what,
    (raw) => {
      const length = unit === 'bytes' ? Buffer.byteLength(raw) : raw.length;
      return length >= min && (o.max === undefined || length <= o.max)
        ? { ok: true, value: raw }
        : { ok: false };
    },
    { secret: true },
  );
}

/** A comma-separated list, each item parsed by `item`; empty items are dropped. */
export function list<T>(
  name: string,
  o: Common<T[]> & {
    item: (part: string) => T | undefined;
    expected: string;
    secret?: boolean;
    minItems?: number;
    maxItems?: number;
  },
): Variable<T[]> {
  return build<T[]>(
    name,
    o,
    o.expected,
    (raw) => {
      const parts = raw
        .split(',')
        .map((p) => p.trim())
        .filter((p) => p.length > 0);
      if (o.maxItems !== undefined && parts.length > o.maxItems) return { ok: false };
      if (parts.length < (o.minItems ?? 0)) return { ok: false };
      const items: T[] = [];
      for (const part of parts) {
        const value = o.item(part);
        if (value === undefined) return { ok: false };
        items.push(value);
      }
      return { ok: true, value: items };
    },
    { secret: o.secret ?? false },
  );
}

/**
 * Anything else: `parse` returns undefined for an invalid value, or throws an Error whose message
 * (which must never contain the value of a secret) says what is wrong.
 */
export function custom<T>(
  name: string,
  o: Common<T> & { parse: (raw: string) => T | undefined; expected: string; secret?: boolean },
): Variable<T> {
  return build<T>(
    name,
    o,
    o.expected,
    (raw) => {
      try {
        const value = o.parse(raw);
        return value === undefined ? { ok: false } : { ok: true, value };
      } catch (error) {
        return { ok: false, detail: error instanceof Error ? error.message : undefined };
      }
    },
    { secret: o.secret ?? false },
  );
}

/**
 * A secret delivered as a `Secret` handle: consumers read `current()` per use, and when it comes from
 * `<NAME>_FILE` a changed file is taken while Junction runs; inbound verifiers also accept the
 * replaced value for the `grace` period. Unset (and no default): undefined.
 */
export function rotating<T>(
  inner: Variable<T>,
  grace: GraceKind,
): Variable<undefined extends T ? Secret<Exclude<T, undefined>> | undefined : Secret<T>> {
  type Out = undefined extends T ? Secret<Exclude<T, undefined>> | undefined : Secret<T>;
  return {
    name: inner.name,
    doc: inner.doc,
    defaultDoc: inner.defaultDoc,
    expected: inner.expected,
    secret: true,
    rotation: { grace, inner: inner as Variable<unknown> },
    parse: (raw) => {
      const result = inner.parse(raw);
      return result.ok ? { ok: true, value: fixedSecret(inner.name, result.value) as Out } : result;
    },
    defaultValue: (ctx) => {
      const value = inner.defaultValue(ctx);
      return (value === undefined ? undefined : fixedSecret(inner.name, value)) as Out;
    },
  };
}

/** Where raw values come from: the environment, and `<NAME>_FILE` for secrets. */
export interface ConfigSource {
  readonly env: Env;
  readonly ctx: DefaultContext;
  /** The file a variable's value was read from, when it came from `<NAME>_FILE`. */
  fileOf(variable: Variable<unknown>): string | undefined;
  /** Grace periods of rotated secrets, in ms (WEBHOOK_SECRET_GRACE_SECONDS, JWT_SECRET_GRACE_SECONDS). */
  graceMs: Record<GraceKind, number>;
  /** Clock of those grace periods, in epoch ms. */
  now: () => number;
  /** Problems found so far, one line each; loadConfig throws them together. */
  readonly problems: string[];
  /** The raw value of a variable (an empty value counts as unset), or undefined. */
  raw(variable: Variable<unknown>): string | undefined;
  /** True when the variable (or its `_FILE`) is set at all. */
  isSet(variable: Variable<unknown>): boolean;
}

export function createSource(
  env: Env,
  ctx: DefaultContext,
  readFile: (path: string) => string,
  problems: string[] = [],
  now: () => number = Date.now,
): ConfigSource {
  const fileRead = new Map<string, string | undefined>();
  return {
    env,
    ctx,
    problems,
    now,
    graceMs: { none: 0, webhook: 0, jwt: 0 },
    fileOf(variable) {
      const direct = env[variable.name];
      if (direct !== undefined && direct !== '') return undefined;
      return variable.secret ? env[`${variable.name}_FILE`] || undefined : undefined;
    },
    raw(variable) {
      const direct = env[variable.name];
      if (direct !== undefined && direct !== '') return direct;
      const file = variable.secret ? env[`${variable.name}_FILE`] : undefined;
      if (!file) return undefined;
      if (!fileRead.has(variable.name)) {
        try {
          fileRead.set(variable.name, readFile(file).trim());
        } catch {
          problems.push(`${variable.name}_FILE: cannot read the file it names`);
          fileRead.set(variable.name, undefined);
        }
      }
      return fileRead.get(variable.name);
    },
    isSet(variable) {
      return (
        (env[variable.name] !== undefined && env[variable.name] !== '') ||
        (variable.secret && !!env[`${variable.name}_FILE`])
      );
    },
  };
}

/** Reads one variable: its value, or its default (with a problem recorded when the value is bad). */
export function readVariable<T>(variable: Variable<T>, source: ConfigSource): T {
  const raw = source.raw(variable);
  if (raw === undefined) return variable.defaultValue(source.ctx);
  const result = variable.parse(raw);
  if (result.ok) {
    const file = variable.rotation ? source.fileOf(variable) : undefined;
    if (!variable.rotation || file === undefined) return result.value;
    // From a file: a handle that takes the file's new text while running (validated the same way).
    const inner = variable.rotation.inner;
    return fileSecret({
      variable: variable.name,
      file,
      raw,
      value: (result.value as Secret<unknown>).current(),
      parse: (text: string) => {
        const next = inner.parse(text);
        if (next.ok) return next.value;
        throw new Error(next.detail ?? `expected ${inner.expected}`);
      },
      graceMs: source.graceMs[variable.rotation.grace],
      now: source.now,
    }) as T;
  }
  source.problems.push(
    result.detail !== undefined
      ? `${variable.name}: ${result.detail}`
      : `${variable.name}: expected ${variable.expected}${variable.secret ? '' : `, got ${JSON.stringify(raw)}`}`,
  );
  return variable.defaultValue(source.ctx);
}

/** Reads every variable of a section. */
export function readSection<F extends Fields>(fields: F, source: ConfigSource): Values<F> {
  const out: Record<string, unknown> = {};
  for (const [key, variable] of Object.entries(fields)) out[key] = readVariable(variable, source);
  return out as Values<F>;
}

/** A titled group of variables, for the README table. */
export interface DocumentedSection {
  title: string;
  fields: Fields;
}

/** The README's configuration table: one row per variable, in section order. */
export function configTable(sections: readonly DocumentedSection[]): string {
  const cell = (s: string) => s.replace(/\|/g, '\\|');
  const rows = ['| variable | what it does | default |', '|---|---|---|'];
  for (const section of sections) {
    rows.push(`| **${cell(section.title)}** | | |`);
    for (const v of Object.values(section.fields)) {
      const name = v.secret ? `\`${v.name}\` (or \`${v.name}_FILE\`)` : `\`${v.name}\``;
      rows.push(`| ${name} | ${cell(v.doc)} | ${cell(v.defaultDoc)} |`);
    }
  }
  return rows.join('\n');
}

/**
 * Plain values given for a section's variables (a simulator's credentials, a test's) in the shape
 * the section reads them: rotating secrets become fixed `Secret` handles, the rest stay as they are.
 */
export function asSectionValues(
  fields: Fields,
  plain: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(plain)) {
    const variable = fields[key];
    out[key] =
      variable?.rotation && value !== undefined && !isSecret(value)
        ? fixedSecret(variable.name, value)
        : value;
  }
  return out;
}

/** A section's values with every `Secret` handle read once (what a simulator, which holds none, is given). */
export function plainValues(values: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, isSecret(v) ? v.current() : v]));
}

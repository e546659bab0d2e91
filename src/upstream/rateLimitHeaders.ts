// One reader for every way a provider says "slow down" or "wait": Retry-After (delay-seconds or an
// HTTP-date, RFC 9110 §10.2.3), RateLimit-Remaining/-Reset and their X- forms, and the RateLimit
// structured field (draft-ietf-httpapi-ratelimit-headers: `"policy";r=<remaining>;t=<seconds>`, or
// the older drafts' `limit=, remaining=, reset=` dictionary). Providers send reset times in several
// units; the unit is decided by plausibility against now. Callers clamp the resulting pauses.
import { parseDictionary, parseList } from 'structured-headers';

export type HeaderMap = Readonly<Record<string, string | string[] | undefined>>;

/** How a reset number was read. `implausible`: a number that is no sane delay nor a time near now. */
export type ResetUnit = 'delta-seconds' | 'epoch-seconds' | 'epoch-ms' | 'http-date' | 'implausible';

export interface ResetTime {
  /** The header it came from, lower-case. */
  header: string;
  unit: ResetUnit;
  /** Ms from now until the reset: 0 once it has passed, Infinity when implausible (callers clamp). */
  delayMs: number;
}

export interface RateLimitSignals {
  /** Retry-After, resolved against now. */
  retryAfter: ResetTime | undefined;
  /** Requests the provider still allows in its window (the most restrictive window it named). */
  remaining: number | undefined;
  /** When that window resets. */
  reset: ResetTime | undefined;
}

const YEAR_MS = 365 * 24 * 3600 * 1000;
/** A delta above this many seconds (10 years) is meant as something else, or is nonsense. */
const MAX_DELTA_SECONDS = 10 * 365 * 24 * 3600;
/** 1e12 ms is September 2001: any real clock reads more. */
const EPOCH_MS_FLOOR = 1e12;
/** Longest header value read; anything longer is ignored rather than parsed. */
const MAX_HEADER_LENGTH = 1024;
/** Most members of a RateLimit field considered (one per quota policy). */
const MAX_POLICIES = 16;
const NUMBER = /^\d{1,20}(\.\d{1,9})?$/;

/** The rate-limit header names Junction reads, lower-case: the only response headers errors keep. */
export const RATE_LIMIT_HEADER_NAMES: readonly string[] = [
  'retry-after',
  'ratelimit',
  'ratelimit-policy',
  'ratelimit-limit',
  'ratelimit-remaining',
  'ratelimit-reset',
  'x-ratelimit-limit',
  'x-ratelimit-remaining',
  'x-ratelimit-reset',
  'x-rate-limit-limit',
  'x-rate-limit-remaining',
  'x-rate-limit-reset',
];

/** Remaining/reset header pairs, in the order tried after the RateLimit field. */
const PAIRS: ReadonlyArray<readonly [remaining: string, reset: string]> = [
  ['ratelimit-remaining', 'ratelimit-reset'],
  ['x-ratelimit-remaining', 'x-ratelimit-reset'],
  ['x-rate-limit-remaining', 'x-rate-limit-reset'],
];

/** Every header readRateLimitSignals reads (lower-case). */
const RATE_LIMIT_HEADERS: readonly string[] = ['retry-after', 'ratelimit', ...PAIRS.flat()];
const NO_SIGNALS: RateLimitSignals = Object.freeze({
  retryAfter: undefined,
  remaining: undefined,
  reset: undefined,
});

/**
 * Reads a reset number in whichever unit makes sense now: seconds from now when small, epoch
 * seconds when near now / 1000 (GitHub's `x-ratelimit-reset`), epoch ms when near now. Near means
 * within a year; a number that fits none of these is `implausible` (delay Infinity).
 */
export function resolveResetNumber(value: number, nowMs: number): { unit: ResetUnit; delayMs: number } {
  if (!(Number.isFinite(value) && value >= 0)) return { unit: 'implausible', delayMs: Infinity };
  // A clock before 2001 is a test's or an embedded device's: only delays can be told apart then.
  if (nowMs < EPOCH_MS_FLOOR) {
    return value <= MAX_DELTA_SECONDS
      ? { unit: 'delta-seconds', delayMs: value * 1000 }
      : { unit: 'implausible', delayMs: Infinity };
  }
  if (Math.abs(value - nowMs) <= YEAR_MS) return { unit: 'epoch-ms', delayMs: Math.max(0, value - nowMs) };
  if (Math.abs(value * 1000 - nowMs) <= YEAR_MS) {
    return { unit: 'epoch-seconds', delayMs: Math.max(0, value * 1000 - nowMs) };
  }
  if (value <= MAX_DELTA_SECONDS) return { unit: 'delta-seconds', delayMs: value * 1000 };
  return { unit: 'implausible', delayMs: Infinity };
}

/**
 * One reset value (a number in any unit above, or an HTTP-date), or undefined when the header is
 * absent, too long or not a time at all. A date more than a year from now is implausible.
 */
export function parseResetValue(
  header: string,
  value: string | string[] | undefined,
  nowMs: number,
): ResetTime | undefined {
  const raw = firstValue(value);
  if (raw === undefined) return undefined;
  if (NUMBER.test(raw)) return { header, ...resolveResetNumber(Number(raw), nowMs) };
  // Only something that looks like an IMF-fixdate / RFC 850 / asctime date: Date.parse alone
  // accepts far too much ("1 2", "x 5").
  if (!/^[A-Za-z]{3}/.test(raw)) return undefined;
  const at = Date.parse(raw);
  if (Number.isNaN(at)) return undefined;
  if (at - nowMs > YEAR_MS) return { header, unit: 'implausible', delayMs: Infinity };
  return { header, unit: 'http-date', delayMs: Math.max(0, at - nowMs) };
}

/** Every throttling signal in `headers` (lower-case names, as undici gives them). */
export function readRateLimitSignals(headers: HeaderMap, nowMs: number): RateLimitSignals {
  // Most answers carry none of these headers: say so without parsing anything (hot path).
  if (!RATE_LIMIT_HEADERS.some((name) => headers[name] !== undefined)) return NO_SIGNALS;
  const retryAfter = parseResetValue('retry-after', headers['retry-after'], nowMs);
  let best: { remaining: number; reset: ResetTime | undefined } | undefined;
  const consider = (remaining: number | undefined, reset: ResetTime | undefined) => {
    if (remaining === undefined) return;
    // The most restrictive window wins: fewest requests left, then the longest wait for more.
    if (
      best === undefined ||
      remaining < best.remaining ||
      (remaining === best.remaining && (reset?.delayMs ?? 0) > (best.reset?.delayMs ?? 0))
    ) {
      best = { remaining, reset };
    }
  };
  for (const policy of structuredPolicies(headers.ratelimit, nowMs)) consider(policy.remaining, policy.reset);
  for (const [remainingName, resetName] of PAIRS) {
    consider(
      toCount(firstValue(headers[remainingName])),
      parseResetValue(resetName, headers[resetName], nowMs),
    );
  }
  const found = best as { remaining: number; reset: ResetTime | undefined } | undefined;
  return { retryAfter, remaining: found?.remaining, reset: found?.reset };
}

/**
 * How long the provider asked us to wait, in seconds and at most `maxPauseMs`: Retry-After, or
 * when it is absent and no request is left in the window, the window's reset. Undefined when it
 * said neither.
 */
export function retryAfterSecondsFrom(
  headers: HeaderMap,
  nowMs: number,
  maxPauseMs: number,
): number | undefined {
  const signals = readRateLimitSignals(headers, nowMs);
  const wait =
    signals.retryAfter ??
    (signals.remaining !== undefined && signals.remaining <= 0 ? signals.reset : undefined);
  if (wait === undefined) return undefined;
  return Math.min(wait.delayMs, maxPauseMs) / 1000;
}

/** The rate-limit headers of a response, each cut to a bounded length: what an error keeps. */
export function pickRateLimitHeaders(headers: HeaderMap): Record<string, string> | undefined {
  let picked: Record<string, string> | undefined;
  for (const name of RATE_LIMIT_HEADER_NAMES) {
    const value = headers[name];
    if (value === undefined) continue;
    const joined = Array.isArray(value) ? value.join(', ') : value;
    picked ??= {};
    picked[name] = joined.slice(0, MAX_HEADER_LENGTH);
  }
  return picked;
}

/** Members of the RateLimit field, in either draft's form; nothing when it is absent or malformed. */
function structuredPolicies(
  value: string | string[] | undefined,
  nowMs: number,
): Array<{ remaining: number | undefined; reset: ResetTime | undefined }> {
  const raw = Array.isArray(value) ? value.join(', ') : value;
  if (raw === undefined || raw.length > MAX_HEADER_LENGTH) return [];
  const reset = (seconds: unknown): ResetTime | undefined =>
    typeof seconds === 'number' ? { header: 'ratelimit', ...resolveResetNumber(seconds, nowMs) } : undefined;
  try {
    // Newer drafts: a list of policies, each `"name";r=<remaining>;t=<seconds to reset>`.
    return parseList(raw)
      .slice(0, MAX_POLICIES)
      .map(([, params]) => ({ remaining: countOf(params.get('r')), reset: reset(params.get('t')) }));
  } catch {
    // Older drafts: one dictionary, `limit=100, remaining=0, reset=5`.
  }
  try {
    const dictionary = parseDictionary(raw);
    const bare = (key: string): unknown => {
      const member = dictionary.get(key);
      return member === undefined || Array.isArray(member[0]) ? undefined : member[0];
    };
    return [{ remaining: countOf(bare('remaining')), reset: reset(bare('reset')) }];
  } catch {
    return [];
  }
}

function firstValue(value: string | string[] | undefined): string | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined || raw.length > MAX_HEADER_LENGTH) return undefined;
  const trimmed = raw.trim();
  return trimmed === '' ? undefined : trimmed;
}

function toCount(raw: string | undefined): number | undefined {
  return raw !== undefined && NUMBER.test(raw) ? Number(raw) : undefined;
}

function countOf(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

// Parses `Retry-After` (RFC 9110 §10.2.3): either delay-seconds or an HTTP-date.

/**
 * Seconds to wait, or undefined when the header is absent or unparseable. A date in the past
 * gives 0. Fractions are kept (some providers send `0.5`).
 */
export function parseRetryAfter(
  value: string | string[] | undefined,
  nowMs: number = Date.now(),
): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined) return undefined;
  const trimmed = raw.trim();
  if (trimmed === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed);
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, (at - nowMs) / 1000);
}

// Where the OAuth callback may send the browser back (OAUTH_RETURN_URLS). Entries are exact origins
// (`https://app.example.com`) or origins with a path prefix (`https://app.example.com/settings`);
// everything else is refused, so the callback can never be used as an open redirect.
import { AccountError } from './errors.js';

export interface ReturnUrlRule {
  /** `scheme://host[:port]`, as URL.origin writes it. */
  origin: string;
  /** Path the URL must equal or continue with `/`; undefined: any path of the origin. */
  pathPrefix: string | undefined;
}

/** Longest `returnTo` accepted, in characters. */
export const MAX_RETURN_TO_LENGTH = 2048;
/** Most entries in OAUTH_RETURN_URLS. */
export const MAX_RETURN_URL_RULES = 32;

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * Parses the comma-separated OAUTH_RETURN_URLS. Throws a TypeError naming the bad entry (not
 * secret). With `requireHttps`, plain http is allowed only for loopback hosts.
 */
export function parseReturnUrlRules(text: string, options: { requireHttps?: boolean } = {}): ReturnUrlRule[] {
  const entries = text
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e.length > 0);
  if (entries.length === 0) throw new TypeError('expected at least one http(s) URL');
  if (entries.length > MAX_RETURN_URL_RULES)
    throw new TypeError(`expected at most ${MAX_RETURN_URL_RULES} URLs, got ${entries.length}`);
  return entries.map((entry) => {
    const url = parseAbsolute(entry);
    if (!url || url.username || url.password || url.search || url.hash || entry.includes('#'))
      throw new TypeError(
        `expected http(s) origins or origin+path prefixes without credentials, query or fragment, got ${JSON.stringify(entry)}`,
      );
    if (options.requireHttps && url.protocol === 'http:' && !LOOPBACK_HOSTS.has(url.hostname))
      throw new TypeError(`expected https outside loopback in production, got ${JSON.stringify(entry)}`);
    const path = url.pathname.replace(/\/+$/, '');
    return { origin: url.origin, pathPrefix: path === '' ? undefined : path };
  });
}

/**
 * The URL to send the browser back to: `returnTo` when a rule allows it (normalised by the WHATWG
 * URL parser, so `..` and encoded dots are resolved before the path is compared), the first rule's
 * URL when `returnTo` is absent. Anything else is AccountError RETURN_URL_NOT_ALLOWED.
 */
export function checkReturnTo(returnTo: string | undefined | null, rules: readonly ReturnUrlRule[]): string {
  if (returnTo === undefined || returnTo === null || returnTo === '') {
    const first = rules[0];
    if (!first) throw refused();
    return `${first.origin}${first.pathPrefix ?? '/'}`;
  }
  // Backslashes, whitespace and control characters are read differently by browsers and parsers.
  if (returnTo.length > MAX_RETURN_TO_LENGTH || /[\\\s\p{Cc}]/u.test(returnTo)) throw refused();
  // Parsed without a base: a scheme-relative `//evil.example` or a bare path does not parse.
  const url = parseAbsolute(returnTo);
  if (!url || url.username || url.password) throw refused();
  const allowed = rules.some(
    (rule) =>
      rule.origin === url.origin &&
      (rule.pathPrefix === undefined ||
        url.pathname === rule.pathPrefix ||
        url.pathname.startsWith(`${rule.pathPrefix}/`)),
  );
  if (!allowed) throw refused();
  return url.href;
}

/** `base` with `params` added to its query (kept before any fragment). */
export function withQuery(base: string, params: Record<string, string>): string {
  const url = new URL(base);
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  return url.href;
}

function parseAbsolute(text: string): URL | undefined {
  if (!/^https?:\/\//i.test(text)) return undefined;
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : undefined;
  } catch {
    return undefined;
  }
}

function refused(): AccountError {
  return new AccountError(
    'RETURN_URL_NOT_ALLOWED',
    'returnTo is not an allowed return URL (OAUTH_RETURN_URLS)',
  );
}

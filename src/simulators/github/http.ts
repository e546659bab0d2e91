// Request and response details GitHub's two hosts share: how credentials arrive (`token`/`Bearer`,
// Basic), how the token endpoint reads its parameters and formats its answer, and the REST API's
// version, media type and conditional request (ETag, Last-Modified) rules.
import type { SimRequest, SimResponse } from '../shared/wire.js';
import { GITHUB_DOCS, githubError } from './errors.js';

export function redirect(location: string): SimResponse {
  return { status: 302, headers: { location, 'cache-control': 'no-store' } };
}

/** A token in either of GitHub's spellings: `token <t>` (classic) and `Bearer <t>`. */
export function apiToken(authorization: string | undefined): string | undefined {
  return /^(?:token|bearer)\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
}

/** HTTP Basic user and password (scheme case-insensitive: @octokit/oauth-methods sends `basic`). */
export function basicCredentials(
  authorization: string | undefined,
): { user: string; password: string } | undefined {
  const encoded = /^Basic\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
  if (encoded === undefined) return undefined;
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** The token endpoint's parameters from a form or JSON body (JSON numbers are read as strings). */
export function bodyParams(req: SimRequest): Array<[string, string]> {
  if (req.rawBody.length === 0) return [];
  const type = String(req.headers['content-type'] ?? '').toLowerCase();
  if (!type.startsWith('application/json')) return [...req.form()];
  const body = req.json();
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return [];
  return Object.entries(body).flatMap(
    ([key, value]): Array<[string, string]> =>
      typeof value === 'string' || typeof value === 'number' ? [[key, String(value)]] : [],
  );
}

/**
 * GitHub answers the token endpoint in the format `Accept` asks for: JSON for `application/json`,
 * otherwise a form-encoded string (its XML variant is left out: no client Junction uses asks for it).
 */
export function formatTokenBody(
  fields: Record<string, string | number>,
  accept: string | undefined,
): { headers: Record<string, string>; body: string } {
  if ((accept ?? '').toLowerCase().includes('application/json')) {
    return {
      headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
      body: JSON.stringify(fields),
    };
  }
  const form = new URLSearchParams(Object.entries(fields).map(([k, v]): [string, string] => [k, String(v)]));
  return {
    headers: {
      'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
      'cache-control': 'no-store',
    },
    body: form.toString(),
  };
}

/** The selected API version, or GitHub's 400 for an unsupported version / 415 for an unacceptable `Accept`. */
export function checkVersionAndMedia(req: SimRequest, versions: readonly string[]): string | SimResponse {
  const header = req.headers['x-github-api-version'];
  const version = Array.isArray(header) ? header[0] : header;
  if (version !== undefined && !versions.includes(version)) {
    return githubError(400, `API version ${version.slice(0, 32)} is not supported.`, GITHUB_DOCS.apiVersions);
  }
  const accept = req.headers.accept;
  if (accept !== undefined && accept.trim() !== '' && !acceptsJson(accept)) {
    return githubError(
      415,
      `Unsupported 'Accept' header: ${JSON.stringify(accept.slice(0, 100))}. Must accept 'application/json'.`,
      GITHUB_DOCS.mediaTypes,
    );
  }
  // Without the header GitHub uses its oldest supported version, the first of the list.
  return version ?? versions[0] ?? '2022-11-28';
}

/** True when one media range of `Accept` admits JSON: `*\/*`, `application/*`, `application/json` or a `vnd.github` type. */
export function acceptsJson(accept: string): boolean {
  return accept.split(',').some((range) => {
    const type = (range.split(';')[0] ?? '').trim().toLowerCase();
    return (
      type === '*/*' ||
      type === 'application/*' ||
      type === 'application/json' ||
      type.startsWith('application/vnd.github')
    );
  });
}

/** If-None-Match (weak comparison) first; If-Modified-Since only without If-None-Match (RFC 9110 §13.2.2). */
export function notModified(req: SimRequest, etag: string, lastModifiedMs: number | undefined): boolean {
  const ifNoneMatch = req.headers['if-none-match'];
  if (ifNoneMatch !== undefined) {
    const opaque = (tag: string) => tag.trim().replace(/^W\//, '');
    return ifNoneMatch.trim() === '*' || ifNoneMatch.split(',').some((c) => opaque(c) === opaque(etag));
  }
  const since = req.headers['if-modified-since'];
  if (since === undefined || lastModifiedMs === undefined) return false;
  const sinceMs = Date.parse(since);
  return Number.isFinite(sinceMs) && Math.floor(lastModifiedMs / 1000) * 1000 <= sinceMs;
}

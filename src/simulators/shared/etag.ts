// Conditional GETs for simulators that opt in: a strong ETag (sha1 of the body) on 200 JSON answers
// and a 304 when the client's If-None-Match names it, as a caching upstream would answer.
import { createHash } from 'node:crypto';
import type { WireResponse } from './wire.js';

/** `wire` with an ETag (a handler's own wins), or a bodiless 304 when `ifNoneMatch` matches it. */
export function applyEtag(wire: WireResponse, ifNoneMatch: string | undefined): WireResponse {
  if (wire.status !== 200 || !wire.isJson || wire.body === undefined) return wire;
  const etag = wire.headers.etag ?? `"${createHash('sha1').update(wire.body).digest('hex')}"`;
  const headers: Record<string, string> = { ...wire.headers, etag };
  if (ifNoneMatch !== undefined && etagMatches(ifNoneMatch, etag)) {
    delete headers['content-type'];
    delete headers['content-length'];
    return { status: 304, headers, body: undefined, isJson: false };
  }
  return { ...wire, headers };
}

/** If-None-Match uses the weak comparison (RFC 9110 §13.1.2): `W/` prefixes are ignored. */
function etagMatches(ifNoneMatch: string, etag: string): boolean {
  const opaque = (tag: string) => tag.trim().replace(/^W\//, '');
  if (ifNoneMatch.trim() === '*') return true;
  return ifNoneMatch.split(',').some((candidate) => opaque(candidate) === opaque(etag));
}

// Credentials as the providers read them from `Authorization`: a bearer token, or HTTP Basic's user and
// password (RFC 7617). Each simulator decides what they must be and how it answers when they are wrong.

/** The token of `Bearer <token>` (scheme case-insensitive), or undefined for anything else. */
export function bearerToken(authorization: string | undefined): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
}

/**
 * The user and password of `Basic <base64(user:password)>`, or undefined when the scheme is not Basic.
 * Without a `:` the whole decoded text is the user and `password` is undefined.
 */
export function basicCredentials(
  authorization: string | undefined,
): { user: string; password: string | undefined } | undefined {
  const encoded = /^Basic\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
  if (encoded === undefined) return undefined;
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return { user: decoded, password: undefined };
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

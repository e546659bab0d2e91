// `npm run token -- --sub <id> [--admin] [--ttl 3600]`: mints a client JWT with the configured
// HS256 secret (the demo secret when none is set). Refuses in production.
import { parseArgs } from 'node:util';
import { SignJWT } from 'jose';
import { ConfigError, loadConfig } from '../config.js';

export async function mintToken(
  secret: string,
  claims: {
    sub: string;
    admin?: boolean;
    ttlSeconds?: number;
    issuer?: string | undefined;
    audience?: string | undefined;
  },
): Promise<string> {
  let jwt = new SignJWT({ roles: claims.admin ? ['admin'] : [] })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(claims.sub)
    .setIssuedAt()
    .setExpirationTime(`${claims.ttlSeconds ?? 3600}s`);
  if (claims.issuer) jwt = jwt.setIssuer(claims.issuer);
  if (claims.audience) jwt = jwt.setAudience(claims.audience);
  return jwt.sign(new TextEncoder().encode(secret));
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      sub: { type: 'string' },
      admin: { type: 'boolean', default: false },
      ttl: { type: 'string', default: '3600' },
    },
  });
  if (!values.sub) {
    console.error('usage: npm run token -- --sub <user id> [--admin] [--ttl <seconds>]');
    process.exit(2);
  }
  const config = loadConfig();
  if (config.isProduction || !config.jwt.secret) {
    console.error(
      'npm run token mints HS256 tokens for demo and development only (not in production, not with JWKS)',
    );
    process.exit(2);
  }
  const ttlSeconds = Number(values.ttl);
  if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0) {
    console.error(`--ttl: expected a positive integer of seconds, got ${JSON.stringify(values.ttl)}`);
    process.exit(2);
  }
  const token = await mintToken(config.jwt.secret, {
    sub: values.sub,
    admin: values.admin,
    ttlSeconds,
    issuer: config.jwt.issuer,
    audience: config.jwt.audience,
  });
  process.stdout.write(`${token}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error: unknown) => {
    console.error(error instanceof ConfigError ? error.message : error);
    process.exit(1);
  });
}

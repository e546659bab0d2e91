// `npm run -s token -- --sub <id> [--admin] [--ttl 3600]`: mints a client JWT with the configured
// HS256 secret (demo mode: the checkout's generated one, the same the server uses). Prints the
// token alone on stdout; refuses in production and with JWKS.
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config.js';
import { demoStateDir, generateDemoSecret, isDemoStateError, openDemoState } from '../demoState.js';
import { mintToken } from '../graphql/viewer.js';

export { mintToken };

export const TOKEN_USAGE = `Mints a client bearer token (HS256) for demo and development.

usage: npm run -s token -- --sub <user id> [--admin] [--ttl <seconds>]

  --sub <id>       the user the token speaks for (the JWT "sub" claim), e.g. usr_0001
  --admin          adds the "admin" role (reads every user's data)
  --ttl <seconds>  lifetime, default 3600; at most JWT_MAX_TOKEN_LIFETIME_SECONDS (default 86400)
  -h, --help       this text

The token alone is printed on stdout: TOKEN=$(npm run -s token -- --sub usr_0001)
(-s keeps npm's own banner out of it). Uses JWT_SECRET when set, else demo mode's secret from
.junction/demo-secrets.json (JUNCTION_STATE_DIR moves it). Refused in production and with JWT_JWKS_URL.
`;

/** Exit codes: 0 done (or help), 1 configuration error, 2 usage error. */
export async function runTokenCli(
  args: string[],
  env: NodeJS.ProcessEnv,
  io: { out: (text: string) => void; err: (text: string) => void; stdoutIsTty: boolean },
): Promise<number> {
  let values: {
    sub?: string | undefined;
    admin?: boolean | undefined;
    ttl?: string | undefined;
    help?: boolean;
  };
  try {
    ({ values } = parseArgs({
      args,
      options: {
        sub: { type: 'string' },
        admin: { type: 'boolean', default: false },
        ttl: { type: 'string', default: '3600' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    io.err(`${error instanceof Error ? error.message : String(error)}\n\n${TOKEN_USAGE}`);
    return 2;
  }
  if (values.help) {
    io.out(TOKEN_USAGE);
    return 0;
  }
  if (!values.sub) {
    io.err(`--sub: required\n\n${TOKEN_USAGE}`);
    return 2;
  }
  if (values.sub.length > 255) {
    io.err('--sub: at most 255 characters\n');
    return 2;
  }
  const ttl = values.ttl ?? '3600';
  if (!/^\d{1,9}$/.test(ttl) || Number(ttl) <= 0) {
    io.err(`--ttl: expected a positive integer of seconds, got ${JSON.stringify(ttl)}\n`);
    return 2;
  }
  const ttlSeconds = Number(ttl);
  let config: ReturnType<typeof loadConfig>;
  try {
    const state = openDemoState(demoStateDir(env));
    config = loadConfig(env, undefined, {
      demoJwtSecret: () => state.getOrCreate('jwtSecret', generateDemoSecret),
    });
  } catch (error) {
    if (error instanceof ConfigError || isDemoStateError(error)) {
      io.err(`${error.message}\n`);
      return 1;
    }
    throw error;
  }
  if (config.isProduction || !config.jwt.secret) {
    io.err(
      'npm run token mints HS256 tokens for demo and development only (not in production, not with JWT_JWKS_URL)\n',
    );
    return 2;
  }
  if (ttlSeconds > config.jwt.maxTokenLifetimeSeconds) {
    io.err(
      `--ttl: at most ${config.jwt.maxTokenLifetimeSeconds} s (JWT_MAX_TOKEN_LIFETIME_SECONDS); Junction refuses longer-lived tokens\n`,
    );
    return 2;
  }
  const token = await mintToken(config.jwt.secret.current(), {
    sub: values.sub,
    admin: values.admin ?? false,
    ttlSeconds,
    issuer: config.jwt.issuer,
    audience: config.jwt.audience,
  });
  io.out(`${token}\n`);
  // `TOKEN=$(npm run token ...)` would also capture npm's banner: say how to avoid it.
  if (!io.stdoutIsTty && env.npm_lifecycle_event === 'token' && env.npm_config_loglevel !== 'silent') {
    io.err(
      'note: npm printed its own banner on stdout too; `npm run -s token -- ...` prints the token alone\n',
    );
  }
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runTokenCli(process.argv.slice(2), process.env, {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
    stdoutIsTty: process.stdout.isTTY === true,
  }).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}

// The token CLI: usage text instead of a crash, the token alone on stdout, demo mode's persisted
// secret, and the same lifetime limit the server enforces. State lives in a temporary directory.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { jwtVerify } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { runTokenCli, TOKEN_USAGE } from '../../../src/cli/token.js';
import { DEMO_SECRETS_FILE } from '../../../src/demoState.js';

const root = resolve(import.meta.dirname, '../../..');
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function stateDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'junction-token-'));
  dirs.push(dir);
  return dir;
}

async function cli(args: string[], env: NodeJS.ProcessEnv, stdoutIsTty = false) {
  let out = '';
  let err = '';
  const code = await runTokenCli(args, env, {
    out: (t) => {
      out += t;
    },
    err: (t) => {
      err += t;
    },
    stdoutIsTty,
  });
  return { code, out, err };
}

const JWT = /^[\w-]+\.[\w-]+\.[\w-]+$/;

describe('npm run token', () => {
  it('prints its usage for --help and -h, and exits 0', async () => {
    for (const flag of ['--help', '-h']) {
      const r = await cli([flag], { JUNCTION_STATE_DIR: stateDir() });
      expect(r).toEqual({ code: 0, out: TOKEN_USAGE, err: '' });
    }
    expect(TOKEN_USAGE).toContain('npm run -s token -- --sub <user id>');
  });

  it('answers an unknown option or a missing --sub with the usage on stderr and exit 2', async () => {
    const unknown = await cli(['--bogus'], { JUNCTION_STATE_DIR: stateDir() });
    expect(unknown.code).toBe(2);
    expect(unknown.out).toBe('');
    expect(unknown.err).toContain("Unknown option '--bogus'");
    expect(unknown.err).toContain('usage:');
    const missing = await cli([], { JUNCTION_STATE_DIR: stateDir() });
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('--sub: required');
    const badTtl = await cli(['--sub', 'usr_0001', '--ttl', '1e3'], { JUNCTION_STATE_DIR: stateDir() });
    expect(badTtl).toMatchObject({ code: 2, out: '' });
  });

  it('demo mode: signs with the secret it keeps in the state directory, and reuses it', async () => {
    const dir = stateDir();
    const first = await cli(['--sub', 'usr_0042', '--admin'], { JUNCTION_STATE_DIR: dir });
    expect(first.code).toBe(0);
    const token = first.out.trim();
    expect(first.out).toBe(`${token}\n`); // the token alone
    expect(token).toMatch(JWT);
    const { jwtSecret } = JSON.parse(readFileSync(join(dir, DEMO_SECRETS_FILE), 'utf8')) as {
      jwtSecret: string;
    };
    const { payload } = await jwtVerify(token, new TextEncoder().encode(jwtSecret));
    expect(payload).toMatchObject({ sub: 'usr_0042', roles: ['admin'] });
    expect(payload.exp! - payload.iat!).toBe(3600);
    const second = await cli(['--sub', 'usr_0001'], { JUNCTION_STATE_DIR: dir });
    await expect(jwtVerify(second.out.trim(), new TextEncoder().encode(jwtSecret))).resolves.toBeDefined();
  });

  it('uses JWT_SECRET when set, and refuses a --ttl the server would refuse', async () => {
    const env = {
      JWT_SECRET: 'a-configured-secret-that-is-long-enough-0123',
      JUNCTION_STATE_DIR: stateDir(),
    };
    const r = await cli(['--sub', 'usr_0001', '--ttl', '600'], env);
    await expect(jwtVerify(r.out.trim(), new TextEncoder().encode(env.JWT_SECRET))).resolves.toBeDefined();
    const tooLong = await cli(['--sub', 'usr_0001', '--ttl', '86401'], env);
    expect(tooLong.code).toBe(2);
    expect(tooLong.err).toContain('at most 86400 s (JWT_MAX_TOKEN_LIFETIME_SECONDS)');
    const raised = await cli(['--sub', 'usr_0001', '--ttl', '86401'], {
      ...env,
      JWT_MAX_TOKEN_LIFETIME_SECONDS: '172800',
    });
    expect(raised.code).toBe(0);
  });

  it('refuses in production and with JWKS, and reports a bad configuration as exit 1', async () => {
    const dir = stateDir();
    const jwks = await cli(['--sub', 'u'], {
      JWT_JWKS_URL: 'https://idp.example/jwks',
      JUNCTION_STATE_DIR: dir,
    });
    expect(jwks.code).toBe(2);
    expect(jwks.err).toContain('not in production, not with JWT_JWKS_URL');
    const bad = await cli(['--sub', 'u'], { JWT_SECRET: 'short', JUNCTION_STATE_DIR: dir });
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('JWT_SECRET: expected at least 32 bytes');
    expect(bad.err).not.toContain('"short"'); // the value is never echoed
  });

  it('says how to keep npm’s banner out of a captured token', async () => {
    const env = { JUNCTION_STATE_DIR: stateDir(), npm_lifecycle_event: 'token' };
    expect((await cli(['--sub', 'u'], env)).err).toContain('npm run -s token');
    expect((await cli(['--sub', 'u'], { ...env, npm_config_loglevel: 'silent' })).err).toBe('');
    expect((await cli(['--sub', 'u'], env, true)).err).toBe(''); // a terminal: nothing is captured
  });

  it('through npm: `npm run -s token` prints the token alone and `-- --help` does not crash', async () => {
    const run = promisify(execFile);
    const env = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      JUNCTION_STATE_DIR: stateDir(),
    };
    const minted = await run('npm', ['run', '-s', 'token', '--', '--sub', 'usr_0001'], { cwd: root, env });
    expect(minted.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    const help = await run('npm', ['run', '-s', 'token', '--', '--help'], { cwd: root, env });
    expect(help.stdout).toBe(TOKEN_USAGE);
  }, 30_000);
});

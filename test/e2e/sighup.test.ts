// The real entry point and SIGHUP: Node's default for SIGHUP is to exit; Junction instead re-reads
// its secret files and keeps serving. The client JWT secret is a file rewritten while it runs.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { mintToken } from '../../src/cli/token.js';

const children: ChildProcess[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function waitFor(check: () => boolean, ms = 20_000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('SIGHUP', () => {
  it('re-reads secret files and keeps serving', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'junction-sighup-'));
    dirs.push(dir);
    const secretFile = join(dir, 'jwt');
    const first = 'the-first-secret-that-is-long-enough-0123456789';
    const second = 'the-second-secret-that-is-long-enough-987654321';
    writeFileSync(secretFile, `${first}\n`);
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        JUNCTION_STATE_DIR: join(dir, '.junction'),
        PORT: '0',
        HOST: '127.0.0.1',
        LOG_LEVEL: 'info',
        JWT_SECRET_FILE: secretFile,
        JWT_SECRET_GRACE_SECONDS: '0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    await waitFor(() => /"url":"(http:[^"]+)".*Junction is listening/.test(out));
    const url = /"url":"(http:[^"]+)".*Junction is listening/.exec(out)?.[1] as string;
    const me = async (secret: string) => {
      const token = await mintToken(secret, { sub: 'usr_0001', ttlSeconds: 600 });
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: '{ me { id } }' }),
      });
      return res.status;
    };
    expect(await me(first)).toBe(200);

    child.kill('SIGHUP'); // nothing changed: a no-op, not an exit
    await new Promise((r) => setTimeout(r, 300));
    expect(child.exitCode).toBeNull();
    expect(await me(first)).toBe(200);

    writeFileSync(secretFile, `${second}\n`);
    child.kill('SIGHUP');
    await waitFor(() => out.includes('JWT_SECRET changed'));
    expect(child.exitCode).toBeNull();
    expect(await me(second)).toBe(200);
    expect(await me(first)).toBe(401);
    expect(out).not.toContain(first);
    expect(out).not.toContain(second);
  });
});

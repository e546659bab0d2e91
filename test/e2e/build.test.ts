// The compiled build: `npm run build` output runs on plain Node, away from src/ and tsx, and serves.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const children: ChildProcess[] = [];
const dirs: string[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('compiled build', () => {
  it('builds dist with its schema and playground assets, and serves a query with no src/ beside it', async () => {
    // A copy of the build in a directory of its own, with only node_modules linked in: if anything
    // read src/ (or needed tsx) at run time, this server could not start or answer.
    const place = mkdtempSync(join(tmpdir(), 'junction-build-'));
    dirs.push(place);
    const out = join(place, 'dist');
    execFileSync(process.execPath, [join(root, 'src/cli/build.mjs'), '--out', out], { stdio: 'pipe' });
    symlinkSync(join(root, 'node_modules'), join(place, 'node_modules'), 'dir');
    expect(existsSync(join(out, 'main.js'))).toBe(true);
    expect(existsSync(join(out, 'schema/users.graphql'))).toBe(true);
    expect(existsSync(join(out, 'graphql/playground/graphiql-start.js'))).toBe(true);
    expect(existsSync(join(place, 'src'))).toBe(false);

    const child = spawn(process.execPath, [join(out, 'main.js')], {
      cwd: place,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        PORT: '0',
        HOST: '127.0.0.1',
        LOG_LEVEL: 'warn',
        JUNCTION_STATE_DIR: join(place, '.junction'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const until = Date.now() + 15_000;
    while (!/Bearer (\S+)/.test(stdout) || !/GraphQL at (http:\S+)/.test(stdout)) {
      if (Date.now() > until || child.exitCode !== null) throw new Error(`no start: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const token = /Bearer (\S+)/.exec(stdout)![1]!;
    const url = /GraphQL at (http:\S+)/.exec(stdout)![1]!;
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: '{ me { id name } }' }),
    });
    const body = (await res.json()) as any;
    expect(body.data.me.id).toBe('usr_0001');
    const page = await fetch(url, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('graphiql');
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    expect(child.exitCode).toBe(0);
  }, 90_000);
});

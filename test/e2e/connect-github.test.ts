// Connecting a GitHub account end to end, in demo mode, in a real Chromium: Junction started as
// `npm start` starts it (src/main.ts, every provider on its simulator, demo state in a temporary
// directory), the mutation run from the playground, the simulator's consent page approved by a
// click, the browser back on the playground with ?connected=github, then the account and its
// repositories queried from the playground. Nothing leaves loopback.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshPgliteDir } from '../unit/accounts/support/databases.js';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) {
  console.warn(
    `GitHub connection browser test skipped: ${CHROMIUM} is missing (apt-get install -y chromium)`,
  );
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Replaces the playground's query with `query`, runs it, and returns the result pane's text once it holds `expect`. */
async function run(page: Page, query: string, expectText: string): Promise<string> {
  const editor = page.locator('.graphiql-query-editor .CodeMirror');
  await editor.waitFor({ state: 'visible', timeout: 15_000 });
  await editor.click();
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.press('Delete');
  await page.keyboard.type(query);
  await page.keyboard.press('Escape'); // close any autocomplete hint
  await page.waitForTimeout(300); // GraphiQL re-parses the editor after a short debounce
  await page.locator('.graphiql-execute-button').click();
  const result = page.locator('.result-window').filter({ hasText: expectText });
  await result.waitFor({ timeout: 20_000 });
  return (await result.textContent()) ?? '';
}

describe.skipIf(!hasChromium)('connecting GitHub in demo mode (Chromium)', () => {
  let child: ChildProcess | undefined;
  let dir: string;
  let base: string;
  let port: number;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'junction-connect-e2e-'));
    const state = join(dir, '.junction');
    // The embedded database from the test template (initdb costs seconds of CPU); migrated at first use.
    await mkdir(state, { recursive: true });
    await freshPgliteDir(join(state, 'pglite'));
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
    child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        JUNCTION_STATE_DIR: state,
        PORT: String(port),
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const until = Date.now() + 40_000;
    while (!out.includes('Demo admin token')) {
      if (child.exitCode !== null || Date.now() > until)
        throw new Error(`Junction did not start: ${err}${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }, 60_000);

  afterAll(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child!.once('exit', r));
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('connects from the playground, approves on the consent page, lands back, reads the account', async () => {
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    try {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const page = await context.newPage();
      const requested: string[] = [];
      page.on('request', (request) => requested.push(request.url()));

      // 1. The playground (demo token pre-filled) asks for the authorization URL.
      await page.goto(`${base}/graphql`, { waitUntil: 'load' });
      const begun = await run(
        page,
        'mutation { connectAccount(provider: GITHUB) { authorizationUrl } }',
        'authorizationUrl',
      );
      const authorizationUrl = /"authorizationUrl": "([^"]+)"/.exec(begun)?.[1];
      expect(authorizationUrl).toMatch(/\/login\/oauth\/authorize\?/);
      // The answer bound the flow to this browser.
      const cookies = await context.cookies(); // every cookie (its path is the callback's only)
      expect(cookies).toEqual([
        expect.objectContaining({
          name: expect.stringMatching(/^junction_oauth_/),
          path: '/oauth/github/callback',
          httpOnly: true,
          sameSite: 'Lax',
        }),
      ]);

      // 2. The simulator's consent page: approve as the preselected account.
      await page.goto(authorizationUrl!, { waitUntil: 'load' });
      expect(await page.locator('h1').textContent()).toContain('wants to access your account');
      await page.locator('button[value="authorize"]').click();

      // 3. Back through Junction's callback to the playground.
      await page.waitForURL(/\/graphql\?connected=github$/, { timeout: 20_000 });
      expect(await context.cookies()).toEqual([]); // the callback cleared the flow's cookie

      // 4. The connected account and its repositories, from the playground.
      const result = await run(
        page,
        '{ me { github { login repositories(first: 5) { nodes { name } pageInfo { hasNextPage } } } } }',
        'octo-ada',
      );
      expect(result).toContain('"login": "octo-ada"');
      expect(result).toContain('"hasNextPage": true');
      expect((result.match(/"name": /g) ?? []).length).toBe(5);

      await mkdir('test-artifacts', { recursive: true });
      await page.screenshot({ path: 'test-artifacts/connect-github.png' });
      // Nothing left this machine.
      expect(requested.filter((u) => !/^http:\/\/(127\.0\.0\.1|localhost):\d+\//.test(u))).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 90_000);
});

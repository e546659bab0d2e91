// The GraphQL explorer at GET /graphql: a real Junction, a real Chromium, and no network but loopback.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonForScript } from '../../src/graphql/playground.js';
import { type Harness, startHarness } from '../helpers/harness.js';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) {
  console.warn(`playground browser test skipped: ${CHROMIUM} is missing (apt-get install -y chromium)`);
}

/** What Chromium sends for a page load. */
const BROWSER_ACCEPT =
  'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8';

describe('GraphQL explorer (GRAPHQL_PLAYGROUND=true)', () => {
  let target: Harness;
  beforeAll(async () => {
    target = await startHarness({ env: { GRAPHQL_PLAYGROUND: 'true' } });
  });
  afterAll(async () => {
    await target?.close();
  });

  it('answers a browser with the page under a strict CSP, and JSON clients with Apollo as before', async () => {
    const page = await fetch(`${target.url}/graphql`, { headers: { accept: BROWSER_ACCEPT } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('cache-control')).toBe('no-store');
    expect(page.headers.get('vary')).toMatch(/\bAccept\b/);
    const csp = page.headers.get('content-security-policy') ?? '';
    const directives = new Map(
      csp.split(';').map((d) => {
        const [name = '', ...values] = d.trim().split(/\s+/);
        return [name, values] as const;
      }),
    );
    expect(directives.get('default-src')).toEqual(["'none'"]);
    expect(directives.get('script-src')).toEqual(["'self'"]);
    expect(directives.get('connect-src')).toEqual(["'self'"]);
    expect(directives.get('style-src')?.[0]).toBe("'self'");
    expect(
      directives
        .get('style-src')
        ?.slice(1)
        .every((v) => /^'nonce-[A-Za-z0-9+/=]+'$/.test(v)),
    ).toBe(true);
    expect(directives.get('frame-ancestors')).toEqual(["'none'"]);
    const html = await page.text();
    expect(html).toContain('id="graphiql"');

    // Every script and style is Junction's own, under /graphql/assets/, cached for good.
    const hrefs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)]
      .map((m) => m[1]!)
      .filter((u) => u !== 'data:,');
    expect(hrefs.length).toBe(6);
    for (const href of hrefs) {
      expect(href).toMatch(/^\/graphql\/assets\/[a-z-]+-[0-9a-f]{12}\.(js|css)$/);
      const asset = await fetch(`${target.url}${href}`);
      expect(asset.status, href).toBe(200);
      expect(asset.headers.get('content-type')).toBe(
        href.endsWith('.js') ? 'text/javascript; charset=utf-8' : 'text/css; charset=utf-8',
      );
      expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect(asset.headers.get('content-encoding')).toBe('gzip'); // fetch asks for gzip and unpacks it
      expect((await asset.arrayBuffer()).byteLength).toBeGreaterThan(100);
    }

    const json = await fetch(`${target.url}/graphql?query=${encodeURIComponent('{__typename}')}`, {
      headers: { accept: 'application/json', 'apollo-require-preflight': 'true' },
    });
    expect(json.status).toBe(200);
    expect(json.headers.get('content-type')).toMatch(/^application\/json/);
    expect(json.headers.get('content-security-policy')).toBeNull();
    expect(await json.json()).toEqual({ data: { __typename: 'Query' } });

    // A browser that follows a ?query= link gets Apollo, not the page.
    const withQuery = await fetch(`${target.url}/graphql?query=${encodeURIComponent('{__typename}')}`, {
      headers: { accept: BROWSER_ACCEPT, 'apollo-require-preflight': 'true' },
    });
    expect(withQuery.headers.get('content-type') ?? '').not.toMatch(/text\/html/);
    // So do fetch's default Accept (*/*) and a client that prefers JSON to HTML.
    for (const accept of ['*/*', 'application/json, text/html;q=0.5']) {
      const res = await fetch(`${target.url}/graphql`, {
        headers: { accept, 'apollo-require-preflight': 'true' },
      });
      expect(res.headers.get('content-type') ?? '', accept).not.toMatch(/text\/html/);
    }
  });

  it('embeds settings as JSON that cannot close its <script> element', () => {
    const hostile = { token: '</script><script>alert(1)</script><!--', line: '\u2028' };
    const text = jsonForScript(hostile);
    expect(text).not.toMatch(/[<>\u2028]/);
    expect(JSON.parse(text)).toEqual(hostile);
  });

  it.skipIf(!hasChromium)(
    'renders GraphiQL offline in Chromium and runs { me { id name } } with the pre-filled demo token',
    async () => {
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
        const problems: string[] = [];
        page.on('request', (request) => requested.push(request.url()));
        page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
        page.on('console', (message) => {
          if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
        });
        // Runs outside the page's CSP; records anything the policy blocks (a blocked style or script
        // would otherwise fail quietly).
        await page.addInitScript({
          content: `document.addEventListener('securitypolicyviolation', (event) => {
            console.error('CSP violation: ' + event.effectiveDirective + ' blocked ' + event.blockedURI);
          });`,
        });

        await page.goto(`${target.url}/graphql`, { waitUntil: 'load' });
        const queryEditor = page.locator('.graphiql-query-editor .CodeMirror');
        await queryEditor.waitFor({ state: 'visible', timeout: 15_000 });

        // The demo token is already in the Headers editor.
        const headersText = await page
          .locator('.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror')
          .textContent();
        expect(headersText).toMatch(/"Authorization": "Bearer [\w-]+\.[\w-]+\.[\w-]+"/);

        // Replace the default query by typing, then run it.
        await queryEditor.click();
        await page.keyboard.press('ControlOrMeta+A');
        await page.keyboard.press('Delete');
        await page.keyboard.type('{ me { id name } }');
        await page.keyboard.press('Escape'); // close any autocomplete hint
        await page.locator('.graphiql-execute-button').click();
        await page.locator('.result-window').filter({ hasText: 'usr_0001' }).waitFor({ timeout: 15_000 });
        const result = await page.locator('.result-window').textContent();
        expect(result).toContain('"id": "usr_0001"');
        expect(result).toContain('"name"');

        // A dialog adds a <style> element: the nonce in the CSP must let it through (checked below).
        await page.getByRole('button', { name: /settings/i }).click();
        await page.getByRole('dialog').waitFor({ state: 'visible' });
        await page.keyboard.press('Escape');
        await page.getByRole('dialog').waitFor({ state: 'hidden' });

        await mkdir('test-artifacts', { recursive: true });
        await page.screenshot({ path: 'test-artifacts/playground.png' });

        // Subscriptions go over a WebSocket to the same origin, which connect-src 'self' allows,
        // and carry the pre-filled token as connectionParams (Junction refuses the socket without).
        // The listener is attached as the socket opens, so the ack cannot slip past it.
        const acked = new Promise<string>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error('no graphql-ws connection_ack within 10 s')),
            10_000,
          );
          page.on('websocket', (ws) => {
            ws.on('framereceived', (frame) => {
              if (!String(frame.payload).includes('"connection_ack"')) return;
              clearTimeout(timer);
              resolve(ws.url());
            });
          });
        });
        await queryEditor.click();
        await page.keyboard.press('ControlOrMeta+A');
        await page.keyboard.press('Delete');
        await page.keyboard.type('subscription Payments { paymentUpdated(userId: "usr_0001") { id } }');
        await page.keyboard.press('Escape');
        // GraphiQL re-parses the editor (and so learns this is a subscription) after a 100-150 ms
        // debounce; run before that and it would still see the previous query and use HTTP.
        await page.waitForTimeout(500);
        await page.locator('.graphiql-execute-button').click();
        expect(await acked).toBe(`${target.url.replace(/^http/, 'ws')}/graphql`);

        // Nothing left this machine: every request went to this Junction on loopback.
        expect(requested.length).toBeGreaterThan(5);
        const origin = new URL(target.url).origin;
        expect(origin).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
        expect(requested.filter((u) => new URL(u).origin !== origin)).toEqual([]);
        expect(problems).toEqual([]);
      } finally {
        await browser.close();
      }
    },
    60_000,
  );
});

describe('GraphQL explorer (GRAPHQL_PLAYGROUND=false)', () => {
  let target: Harness;
  beforeAll(async () => {
    target = await startHarness({ env: { GRAPHQL_PLAYGROUND: 'false' } });
  });
  afterAll(async () => {
    await target?.close();
  });

  it('serves no page and no assets; a browser GET falls through to Apollo', async () => {
    const res = await fetch(`${target.url}/graphql`, { headers: { accept: BROWSER_ACCEPT } });
    expect(res.headers.get('content-type') ?? '').not.toMatch(/text\/html/);
    expect(res.headers.get('content-security-policy')).toBeNull();
    const body = await res.text();
    expect(body).not.toContain('graphiql');
    expect(body).not.toMatch(/cdn|apollographql\.com/i); // nor Apollo's CDN landing page
  });
});

// The GraphQL explorer (GraphiQL) at GET /graphql for browsers, with every script, style and font
// served by Junction itself, so it works with no network beyond this server.
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

export interface PlaygroundOptions {
  /** Where the GraphQL endpoint is and the page is served, e.g. `/graphql`. Must start with `/`. */
  path: string;
  /**
   * URL prefix of the page's scripts and styles; must start and end with `/`. Default:
   * `${path}/assets/`. Asset names carry a content hash, so they are cached for a year.
   */
  assetsPrefix?: string;
  /**
   * Bearer token pre-filled in the Headers editor (demo mode), so a query runs at once. Default:
   * none. Trap: anyone who can load the page can read it; never pass a production credential.
   */
  demoToken?: string | undefined;
  /** When false nothing is registered, and a browser's GET falls through to Apollo. */
  enabled: boolean;
}

interface Asset {
  /** Path under the assets prefix, with a content hash: `graphiql-0123456789ab.js`. */
  name: string;
  contentType: string;
  body: Buffer;
  /** Gzipped on first request and kept: the scripts shrink about 3x. */
  gzipped?: Promise<Buffer>;
}

const require = createRequire(import.meta.url);
const gzipAsync = promisify(gzip);

/** The page's files: vendor UMD builds from node_modules, then Junction's own starter and style. */
const ASSET_SOURCES = [
  { stem: 'react', file: () => join(packageDir('react'), 'umd/react.production.min.js') },
  { stem: 'react-dom', file: () => join(packageDir('react-dom'), 'umd/react-dom.production.min.js') },
  { stem: 'graphiql', file: () => join(packageDir('graphiql'), 'graphiql.min.js') },
  { stem: 'graphiql', file: () => join(packageDir('graphiql'), 'graphiql.min.css') },
  { stem: 'page', file: () => fileURLToPath(new URL('./playground/page.css', import.meta.url)) },
  { stem: 'start', file: () => fileURLToPath(new URL('./playground/graphiql-start.js', import.meta.url)) },
] as const;

const CONTENT_TYPES: Record<string, string> = {
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
};

const DEFAULT_QUERY = `# Junction. Ctrl-Enter runs the query; the bearer token goes under Headers.
{
  me {
    id
    name
  }
}
`;

/** Registers the explorer page hook and its asset routes on `server`; does nothing when disabled. */
export async function registerPlayground(server: FastifyInstance, options: PlaygroundOptions): Promise<void> {
  if (!options.enabled) return;
  const { path } = options;
  if (!path.startsWith('/') || /[?#]/.test(path)) {
    throw new TypeError(
      `registerPlayground: path must be a URL path starting with "/", got ${JSON.stringify(path)}`,
    );
  }
  const assetsPrefix = options.assetsPrefix ?? `${path.replace(/\/$/, '')}/assets/`;
  if (!assetsPrefix.startsWith('/') || !assetsPrefix.endsWith('/') || /[?#"<>\s]/.test(assetsPrefix)) {
    throw new TypeError(
      `registerPlayground: assetsPrefix must be a URL path starting and ending with "/", got ${JSON.stringify(assetsPrefix)}`,
    );
  }

  const assets = await Promise.all(ASSET_SOURCES.map(({ stem, file }) => loadAsset(stem, file())));
  for (const asset of assets) {
    server.get(`${assetsPrefix}${asset.name}`, (request, reply) => sendAsset(asset, request, reply));
  }
  const href = (asset: Asset) => `${assetsPrefix}${asset.name}`;
  const styles = assets.filter((a) => a.name.endsWith('.css')).map(href);
  const scripts = assets.filter((a) => a.name.endsWith('.js')).map(href);
  const defaultHeaders =
    options.demoToken === undefined
      ? undefined
      : JSON.stringify({ Authorization: `Bearer ${options.demoToken}` }, null, 2);

  // A hook, not a route: GET /graphql already belongs to Apollo, which keeps every request that
  // is not a browser asking for the page (GET with ?query=, POST, JSON clients).
  server.addHook('onRequest', async (request, reply) => {
    if (request.method !== 'GET') return;
    const queryAt = request.url.indexOf('?');
    const pathname = queryAt === -1 ? request.url : request.url.slice(0, queryAt);
    if (pathname !== path) return;
    if (queryAt !== -1) {
      // A GraphQL GET (a query, or a persisted query's hash in `extensions`) is Apollo's.
      const params = new URLSearchParams(request.url.slice(queryAt + 1));
      if (params.has('query') || params.has('extensions')) return;
    }
    if (!prefersHtml(request.headers.accept)) return;

    const styleNonce = randomBytes(16).toString('base64');
    const html = renderPage({
      styles,
      scripts,
      settings: { endpoint: path, defaultHeaders, defaultQuery: DEFAULT_QUERY, styleNonce },
    });
    return reply
      .code(200)
      .headers({
        'content-type': 'text/html; charset=utf-8',
        'content-security-policy': contentSecurityPolicy(styleNonce),
        // The page may carry a token, and the same URL answers JSON to other clients.
        'cache-control': 'no-store',
        vary: 'Accept',
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
      })
      .send(html);
  });
}

/**
 * Only 'self' scripts (no inline, no eval); styles from 'self' plus the one nonce the starter hands
 * to the bundle for the <style> element its dialogs add; GraphiQL's fonts are data: URLs inside its
 * CSS; fetch and WebSocket only to this origin ('self' covers ws:/wss: to the same host in CSP 3).
 */
function contentSecurityPolicy(styleNonce: string): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    `style-src 'self' 'nonce-${styleNonce}'`,
    "font-src 'self' data:",
    "img-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

interface PageSettings {
  endpoint: string;
  defaultHeaders: string | undefined;
  defaultQuery: string;
  styleNonce: string;
}

function renderPage(page: { styles: string[]; scripts: string[]; settings: PageSettings }): string {
  const links = page.styles.map((h) => `<link rel="stylesheet" href="${escapeHtml(h)}">`).join('\n    ');
  const scripts = page.scripts.map((h) => `<script src="${escapeHtml(h)}"></script>`).join('\n    ');
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Junction · GraphQL explorer</title>
    <link rel="icon" href="data:,">
    ${links}
  </head>
  <body>
    <div id="graphiql">Loading the GraphQL explorer…</div>
    <script type="application/json" id="junction-playground-settings">${jsonForScript(page.settings)}</script>
    ${scripts}
  </body>
</html>
`;
}

/**
 * JSON that is safe inside a <script> element: `<`, `>` and `&` become \u escapes, so no value can
 * close the element or open a comment; U+2028/2029 are escaped for older JavaScript parsers.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * Whether an Accept header prefers an HTML page to a GraphQL (JSON) answer. Only an explicit
 * `text/html` counts (browsers send one; `fetch` and curl send `*\/*`); on equal quality the type
 * listed first wins.
 */
export function prefersHtml(accept: string | undefined): boolean {
  if (!accept) return false;
  let html = { q: 0, at: Number.POSITIVE_INFINITY };
  let json = { q: 0, at: Number.POSITIVE_INFINITY };
  parseAccept(accept).forEach(({ value, q }, at) => {
    if (value === 'text/html' && q > html.q) html = { q, at };
    if ((value === 'application/json' || value === 'application/graphql-response+json') && q > json.q) {
      json = { q, at };
    }
  });
  return html.q > 0 && (html.q > json.q || (html.q === json.q && html.at < json.at));
}

function acceptsGzip(acceptEncoding: string | undefined): boolean {
  return parseAccept(acceptEncoding ?? '').some(({ value, q }) => value === 'gzip' && q > 0);
}

/** `a/b;q=0.5, c` -> `[{ value: 'a/b', q: 0.5 }, { value: 'c', q: 1 }]`; a malformed q counts as 0. */
function parseAccept(header: string): { value: string; q: number }[] {
  return header.split(',').map((part) => {
    const [value = '', ...params] = part.split(';');
    let q = 1;
    for (const param of params) {
      const [key = '', raw = ''] = param.split('=');
      if (key.trim().toLowerCase() !== 'q') continue;
      const n = Number(raw.trim());
      q = raw.trim() !== '' && Number.isFinite(n) && n >= 0 && n <= 1 ? n : 0;
    }
    return { value: value.trim().toLowerCase(), q };
  });
}

function packageDir(name: string): string {
  // `package.json` is exported by each of these packages; their UMD files are not.
  return dirname(require.resolve(`${name}/package.json`));
}

async function loadAsset(stem: string, file: string): Promise<Asset> {
  const body = await readFile(file);
  const ext = file.slice(file.lastIndexOf('.') + 1);
  const contentType = CONTENT_TYPES[ext];
  if (contentType === undefined) throw new TypeError(`registerPlayground: no content type for ${file}`);
  const hash = createHash('sha256').update(body).digest('hex').slice(0, 12);
  return { name: `${stem}-${hash}.${ext}`, contentType, body };
}

async function sendAsset(asset: Asset, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  void reply.headers({
    'content-type': asset.contentType,
    // The name changes whenever the content does.
    'cache-control': 'public, max-age=31536000, immutable', // 1 year
    'x-content-type-options': 'nosniff',
    vary: 'Accept-Encoding',
  });
  if (!acceptsGzip(request.headers['accept-encoding'])) return reply.send(asset.body);
  asset.gzipped ??= gzipAsync(asset.body);
  return reply.header('content-encoding', 'gzip').send(await asset.gzipped);
}

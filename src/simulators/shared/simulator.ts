// Shared framework for provider simulators: a real loopback node:http server with template routing,
// request recording for tests, fault injection and optional ETag/304 handling.
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FaultController, FaultOutcome, FaultRule } from './faults.js';
import { createFaultEngine } from './faults.js';

export interface SimRequest {
  method: string;
  /** Pathname without the query string, as sent (not decoded). */
  path: string;
  /** Values of the route's `:name` segments, URI-decoded. */
  params: Record<string, string>;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  rawBody: Buffer;
  /** The id the simulator sends back in its request-id header for this request. */
  requestId: string;
  /** Parses the body as JSON; throws a SimHttpError (400) if it is not valid JSON. */
  json(): unknown;
  /** Parses the body as application/x-www-form-urlencoded (whatever the content-type says). */
  form(): URLSearchParams;
}

export interface SimResponse {
  status: number;
  /** Response headers; they override the simulator's defaults (content-type, request id). */
  headers?: Record<string, string>;
  /** Object (or array, number, boolean, null) => JSON; string or Buffer => sent raw; undefined => no body. */
  body?: unknown;
}

export interface Route {
  method: string;
  /** Path template: literal segments plus `:name` params, e.g. `/users/:id` or `/Messages/:sid.json`. */
  path: string;
  /** Name used for counters and fault matching. Default: `${METHOD} ${path}`. */
  name?: string;
  handler(req: SimRequest): SimResponse | Promise<SimResponse>;
}

export interface RecordedRequest {
  method: string;
  path: string;
  /** Name of the route that matched, or undefined when none did (the request got a 404). */
  route: string | undefined;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: string;
  /** Wall-clock time (ms since epoch) at which the request body had been read. */
  at: number;
}

export interface CountFilter {
  method?: string;
  route?: string;
  pathPrefix?: string;
}

export interface Simulator {
  readonly name: string;
  /** Listens and resolves the base URL, e.g. `http://127.0.0.1:41234`; calling it again returns the same URL. */
  start(): Promise<string>;
  /** Base URL; throws if the simulator is not started. */
  readonly url: string;
  /** Stops listening, aborts pending fault delays and destroys every open socket (keep-alive, hung). */
  close(): Promise<void>;
  /** Every request that reached the simulator (faulted ones included), in arrival order. */
  readonly requests: RecordedRequest[];
  count(filter?: CountFilter): number;
  /** Empties `requests` (in place, so references held by tests see it too). */
  resetCounters(): void;
  readonly faults: FaultController;
}

export interface SimulatorOptions {
  /** Name used in messages, e.g. `users`. */
  name: string;
  /** Routes, tried in order; the first whose method and path match answers. */
  routes: Route[];
  /** Interface to listen on. Default: `127.0.0.1` (loopback only). */
  host?: string;
  /** Port to listen on. Default: 0, a random free port. */
  port?: number;
  /** Adds a strong ETag (sha1 of the body) to 200 JSON answers to GET and answers 304 when If-None-Match matches. Default: false. */
  etag?: boolean;
  /** Header carrying the simulator's generated request id (`req_<hex>`). Default: `x-request-id`. */
  requestIdHeader?: string;
  /** Fault rules installed at creation, e.g. from `faultRulesFromEnv`. Default: none. */
  faults?: readonly FaultRule[];
  /** Random source for fault probability and jitter. Default: Math.random. */
  random?: () => number;
}

/** Throw from a handler (or `req.json()`) to answer with this status and body. */
export class SimHttpError extends Error {
  readonly status: number;
  readonly body: unknown;
  constructor(status: number, message: string, body?: unknown) {
    super(message);
    this.name = 'SimHttpError';
    this.status = status;
    this.body = body ?? { error: { message } };
  }
}

export function isSimHttpError(error: unknown): error is SimHttpError {
  return error instanceof SimHttpError;
}

interface CompiledRoute {
  readonly route: Route;
  readonly name: string;
  readonly method: string;
  readonly pattern: RegExp;
  readonly paramNames: readonly string[];
}

interface WireResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer | undefined;
  /** True when the body came from a JSON-serialised value (the only kind that gets an ETag). */
  isJson: boolean;
}

const MALFORMED_JSON_BODY = '{"data": [{"id": "malformed", "note": "this body is cut short';

export function createSimulator(opts: SimulatorOptions): Simulator {
  const { name } = opts;
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? 0;
  const requestIdHeader = (opts.requestIdHeader ?? 'x-request-id').toLowerCase();
  const routes = opts.routes.map(compileRoute);
  const faults = createFaultEngine(opts.random ? { random: opts.random } : {});
  for (const rule of opts.faults ?? []) faults.add(rule);

  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let baseUrl: string | undefined;
  let starting: Promise<string> | undefined;
  // Aborted on close() so pending fault delays stop instead of firing into destroyed sockets.
  let lifetime = new AbortController();

  const findRoute = (method: string, path: string) => {
    for (const compiled of routes) {
      if (compiled.method !== method) continue;
      const m = compiled.pattern.exec(path);
      if (m === null) continue;
      const params: Record<string, string> = {};
      try {
        compiled.paramNames.forEach((param, i) => {
          params[param] = decodeURIComponent(m[i + 1] ?? '');
        });
      } catch {
        continue; // malformed percent-encoding: treat as no match
      }
      return { compiled, params };
    }
    return undefined;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const signal = lifetime.signal;
    const rawBody = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://simulator.invalid');
    const method = (req.method ?? 'GET').toUpperCase();
    const path = url.pathname;
    const found = findRoute(method, path);
    const requestId = `req_${randomBytes(8).toString('hex')}`;
    requests.push({
      method,
      path,
      route: found?.compiled.name,
      query: new URLSearchParams(url.searchParams),
      headers: req.headers,
      body: rawBody.toString('utf8'),
      at: Date.now(),
    });

    const decision = faults.decide({ method, route: found?.compiled.name, path });
    if (decision.delayMs > 0) {
      try {
        await sleep(decision.delayMs, undefined, { signal });
      } catch {
        req.socket.destroy(); // the simulator closed while this request was delayed
        return;
      }
    }
    const outcome: FaultOutcome | undefined = decision.outcome;
    const baseHeaders = { [requestIdHeader]: requestId };

    switch (outcome?.kind) {
      case 'hang':
        return; // close() destroys the socket
      case 'reset':
        if (outcome.when === 'before-response') {
          req.socket.resetAndDestroy();
          return;
        }
        break;
      case 'status': {
        const body = outcome.body ?? (outcome.status >= 400 ? defaultFaultBody(outcome.status) : undefined);
        writeWire(res, toWire({ status: outcome.status, headers: outcome.headers, body }, baseHeaders));
        return;
      }
      case 'malformed':
        res.writeHead(200, {
          ...baseHeaders,
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(MALFORMED_JSON_BODY)),
        });
        res.end(MALFORMED_JSON_BODY);
        return;
      default:
        break;
    }

    let wire: WireResponse;
    if (found === undefined) {
      wire = toWire(
        { status: 404, body: { error: { message: `no route for ${method} ${path} on simulator ${name}` } } },
        baseHeaders,
      );
    } else {
      const simReq = toSimRequest(
        method,
        path,
        found.params,
        url.searchParams,
        req.headers,
        rawBody,
        requestId,
      );
      wire = await runHandler(found.compiled.route, simReq, baseHeaders);
    }
    if (opts.etag && method === 'GET') wire = applyEtag(wire, req.headers['if-none-match']);

    if (outcome?.kind === 'truncate') {
      writePartial(res, wire, () => req.socket.end());
    } else if (outcome?.kind === 'reset') {
      // A short pause lets the client parse the headers before the reset arrives.
      writePartial(res, wire, () => setTimeout(() => req.socket.resetAndDestroy(), 20).unref());
    } else {
      writeWire(res, wire);
    }
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).catch((error: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const message = error instanceof Error ? error.message : String(error);
      writeWire(
        res,
        toWire({ status: 500, body: { error: { message: `simulator ${name} failed: ${message}` } } }, {}),
      );
    });
  };

  const start = async (): Promise<string> => {
    if (baseUrl !== undefined) return baseUrl;
    if (starting !== undefined) return starting;
    lifetime = new AbortController();
    const srv = createServer(onRequest);
    srv.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    starting = new Promise<string>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(port, host, () => {
        srv.off('error', reject);
        const address = srv.address() as AddressInfo;
        const hostPart = address.family === 'IPv6' ? `[${address.address}]` : address.address;
        server = srv;
        baseUrl = `http://${hostPart}:${address.port}`;
        resolve(baseUrl);
      });
    }).finally(() => {
      starting = undefined;
    });
    return starting;
  };

  const close = async (): Promise<void> => {
    if (starting !== undefined) await starting.catch(() => undefined);
    const srv = server;
    if (srv === undefined) return;
    server = undefined;
    baseUrl = undefined;
    lifetime.abort();
    await new Promise<void>((resolve) => {
      srv.close(() => resolve());
      for (const socket of sockets) socket.destroy();
      sockets.clear();
    });
  };

  return {
    name,
    start,
    close,
    get url() {
      if (baseUrl === undefined) throw new Error(`simulator ${name} is not started; call start() first`);
      return baseUrl;
    },
    requests,
    count(filter = {}) {
      return requests.filter(
        (r) =>
          (filter.method === undefined || r.method === filter.method.toUpperCase()) &&
          (filter.route === undefined || r.route === filter.route) &&
          (filter.pathPrefix === undefined || r.path.startsWith(filter.pathPrefix)),
      ).length;
    },
    resetCounters() {
      requests.length = 0;
    },
    faults,
  };
}

function compileRoute(route: Route): CompiledRoute {
  const method = route.method.toUpperCase();
  if (!route.path.startsWith('/')) {
    throw new TypeError(`route path must start with '/', but got: ${JSON.stringify(route.path)}`);
  }
  const paramNames: string[] = [];
  const source = route.path
    .split(/(:[A-Za-z_][A-Za-z0-9_]*)/)
    .map((part) => {
      if (!part.startsWith(':')) return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      const param = part.slice(1);
      if (paramNames.includes(param)) {
        throw new TypeError(`route ${route.path} declares the param :${param} twice`);
      }
      paramNames.push(param);
      return '([^/]+?)';
    })
    .join('');
  return {
    route,
    name: route.name ?? `${method} ${route.path}`,
    method,
    pattern: new RegExp(`^${source}$`),
    paramNames,
  };
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function toSimRequest(
  method: string,
  path: string,
  params: Record<string, string>,
  query: URLSearchParams,
  headers: IncomingHttpHeaders,
  rawBody: Buffer,
  requestId: string,
): SimRequest {
  return {
    method,
    path,
    params,
    query: new URLSearchParams(query),
    headers,
    rawBody,
    requestId,
    json() {
      try {
        return JSON.parse(rawBody.toString('utf8')) as unknown;
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        throw new SimHttpError(400, `request body is not valid JSON: ${reason}`);
      }
    },
    form() {
      return new URLSearchParams(rawBody.toString('utf8'));
    },
  };
}

async function runHandler(
  route: Route,
  req: SimRequest,
  baseHeaders: Record<string, string>,
): Promise<WireResponse> {
  try {
    return toWire(await route.handler(req), baseHeaders);
  } catch (error) {
    if (isSimHttpError(error)) return toWire({ status: error.status, body: error.body }, baseHeaders);
    const message = error instanceof Error ? error.message : String(error);
    return toWire(
      { status: 500, body: { error: { message: `simulator handler threw: ${message}` } } },
      baseHeaders,
    );
  }
}

function defaultFaultBody(status: number): unknown {
  return { error: { message: `simulated fault: status ${status}` } };
}

function toWire(res: SimResponse, baseHeaders: Record<string, string>): WireResponse {
  if (!Number.isInteger(res.status) || res.status < 100 || res.status > 599) {
    throw new TypeError(`handler returned an invalid status: ${String(res.status)}`);
  }
  const headers: Record<string, string> = { ...baseHeaders };
  for (const [key, value] of Object.entries(res.headers ?? {})) headers[key.toLowerCase()] = value;

  let body: Buffer | undefined;
  let isJson = false;
  let defaultType: string | undefined;
  if (res.body === undefined) {
    body = undefined;
  } else if (typeof res.body === 'string') {
    body = Buffer.from(res.body, 'utf8');
    defaultType = 'text/plain; charset=utf-8';
  } else if (Buffer.isBuffer(res.body) || res.body instanceof Uint8Array) {
    body = Buffer.from(res.body);
    defaultType = 'application/octet-stream';
  } else {
    body = Buffer.from(JSON.stringify(res.body), 'utf8');
    isJson = true;
    defaultType = 'application/json';
  }
  if (res.status === 204 || res.status === 304) body = undefined;
  if (body !== undefined && defaultType !== undefined && headers['content-type'] === undefined) {
    headers['content-type'] = defaultType;
  }
  return { status: res.status, headers, body, isJson };
}

function applyEtag(wire: WireResponse, ifNoneMatch: string | undefined): WireResponse {
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

function writeWire(res: ServerResponse, wire: WireResponse): void {
  const headers = { ...wire.headers };
  if (wire.status !== 204 && wire.status !== 304) headers['content-length'] = String(wire.body?.length ?? 0);
  res.writeHead(wire.status, headers);
  res.end(wire.body);
}

/** Writes the headers (Content-Length of the whole body) and only the first half of the body, then calls `after`. */
function writePartial(res: ServerResponse, wire: WireResponse, after: () => void): void {
  const full = wire.body ?? Buffer.alloc(0);
  const sent = full.subarray(0, Math.floor(full.length / 2));
  res.writeHead(wire.status, {
    ...wire.headers,
    'content-length': String(Math.max(full.length, sent.length + 1)),
  });
  if (sent.length > 0) {
    res.write(sent, () => after());
  } else {
    res.flushHeaders();
    after();
  }
}

export interface SimulatorHooks {
  /** Runs before the server closes (e.g. stop a webhook outbox). */
  onClose?: () => void;
  /** Runs after the request counters reset (e.g. provider-specific counters). */
  onReset?: () => void;
  /** A provider-specific fault controller (e.g. one that fills in the provider's error body). */
  faults?: FaultController;
}

/** The Simulator members of a provider simulator, delegated to `sim`; the provider adds its own on top. */
export function delegateSimulator(sim: Simulator, hooks: SimulatorHooks = {}): Simulator {
  return {
    get name() {
      return sim.name;
    },
    start: () => sim.start(),
    get url() {
      return sim.url;
    },
    async close() {
      hooks.onClose?.();
      await sim.close();
    },
    get requests() {
      return sim.requests;
    },
    count: (filter?: CountFilter) => sim.count(filter),
    resetCounters() {
      sim.resetCounters();
      hooks.onReset?.();
    },
    faults: hooks.faults ?? sim.faults,
  };
}

// What a simulator handler sees and returns, and how both meet node:http: the request body read whole
// and parsed on demand (JSON or form), answers serialised to bytes with their content type and length.
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';

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

/** Throw from a handler (or `req.json()`) to answer with this status, body and headers. */
export class SimHttpError extends Error {
  readonly status: number;
  readonly body: unknown;
  /** Headers of the answer, e.g. `www-authenticate` on a 401. Default: none. */
  readonly headers: Record<string, string>;
  constructor(status: number, message: string, body?: unknown, headers: Record<string, string> = {}) {
    super(message);
    this.name = 'SimHttpError';
    this.status = status;
    this.body = body ?? { error: { message } };
    this.headers = headers;
  }
}

export function isSimHttpError(error: unknown): error is SimHttpError {
  return error instanceof SimHttpError;
}

/** An answer ready for the socket. */
export interface WireResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer | undefined;
  /** True when the body came from a JSON-serialised value (the only kind that gets an ETag). */
  isJson: boolean;
}

export function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export function toSimRequest(
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

/** The first value of header `name` (lower-case), when it was sent. */
export function headerValue(req: SimRequest, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Runs a handler; a thrown SimHttpError becomes its answer, anything else a 500 naming the error. */
export async function answerOf(
  handler: (req: SimRequest) => SimResponse | Promise<SimResponse>,
  req: SimRequest,
  baseHeaders: Record<string, string>,
): Promise<WireResponse> {
  try {
    return toWire(await handler(req), baseHeaders);
  } catch (error) {
    if (isSimHttpError(error)) {
      return toWire({ status: error.status, headers: error.headers, body: error.body }, baseHeaders);
    }
    const message = error instanceof Error ? error.message : String(error);
    return toWire(
      { status: 500, body: { error: { message: `simulator handler threw: ${message}` } } },
      baseHeaders,
    );
  }
}

/** Serialises `res` over `baseHeaders` (its own headers win, names lower-cased) and picks a content type. */
export function toWire(res: SimResponse, baseHeaders: Record<string, string>): WireResponse {
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

export function writeWire(res: ServerResponse, wire: WireResponse): void {
  const headers = { ...wire.headers };
  if (wire.status !== 204 && wire.status !== 304) headers['content-length'] = String(wire.body?.length ?? 0);
  res.writeHead(wire.status, headers);
  res.end(wire.body);
}

/** Writes the headers (Content-Length of the whole body) and only the first half of the body, then calls `after`. */
export function writePartial(res: ServerResponse, wire: WireResponse, after: () => void): void {
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

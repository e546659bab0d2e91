// A simulator's server lifecycle: listen on loopback (or where asked), report the base URL, and close
// for good: pending work is told through an AbortSignal and every open socket (keep-alive, hung) is destroyed.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** Handles one request; `signal` aborts when the server closes (e.g. to cut a fault delay short). */
export type RequestListener = (req: IncomingMessage, res: ServerResponse, signal: AbortSignal) => void;

export interface ServerLifecycleOptions {
  /** Name used in messages, e.g. `users`. */
  name: string;
  /** Interface to listen on. Default: `127.0.0.1` (loopback only). */
  host?: string;
  /** Port to listen on. Default: 0, a random free port. */
  port?: number;
  onRequest: RequestListener;
}

export interface ServerLifecycle {
  /** Listens and resolves the base URL, e.g. `http://127.0.0.1:41234`; calling it again returns the same URL. */
  start(): Promise<string>;
  /** Base URL; throws if the server is not started. */
  readonly url: string;
  /** Stops listening, aborts the current lifetime's signal and destroys every open socket. */
  close(): Promise<void>;
}

export function createServerLifecycle(opts: ServerLifecycleOptions): ServerLifecycle {
  const { name } = opts;
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? 0;
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let baseUrl: string | undefined;
  let starting: Promise<string> | undefined;
  // One per start(); aborted on close() so pending work stops instead of firing into destroyed sockets.
  let lifetime = new AbortController();

  const start = async (): Promise<string> => {
    if (baseUrl !== undefined) return baseUrl;
    if (starting !== undefined) return starting;
    lifetime = new AbortController();
    const srv = createServer((req, res) => opts.onRequest(req, res, lifetime.signal));
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
    start,
    close,
    get url() {
      if (baseUrl === undefined) throw new Error(`simulator ${name} is not started; call start() first`);
      return baseUrl;
    },
  };
}

// A bare graphql-ws (graphql-transport-ws) client over a real socket, for tests that must see the
// protocol itself: `error` versus `next` messages, close codes, thousands of subscribe messages.
import WebSocket from 'ws';

export interface WsMessage {
  type: string;
  id?: string;
  payload?: any;
}

export interface WsOperation {
  id: string;
  /** Every `next` payload so far. */
  results: any[];
  /** Resolves with the next `next` payload (already received or still to come). */
  next(): Promise<any>;
  /** Resolves once the server ends the operation: `complete`, or `error` with its errors. */
  ended: Promise<{ kind: 'complete' } | { kind: 'error'; errors: any[] }>;
}

export interface WsClient {
  socket: WebSocket;
  /** The close code and reason, once the socket is closed. */
  closed: Promise<{ code: number; reason: string }>;
  subscribe(payload: {
    query: string;
    variables?: Record<string, unknown>;
    operationName?: string;
    extensions?: Record<string, unknown>;
  }): WsOperation;
  /** Sends a raw protocol message (a subscribe with a chosen id, a complete). */
  send(message: WsMessage): void;
  close(): Promise<void>;
}

/**
 * Opens a socket to `url` (http:// is turned into ws://), sends connection_init with the token and
 * resolves on connection_ack; rejects with the close code when the server refuses.
 */
export async function connectWs(
  url: string,
  options: {
    token?: string | null;
    path?: string;
    /** More connectionParams (connection_init payload). */
    params?: Record<string, unknown>;
    /** Headers of the upgrade request. */
    headers?: Record<string, string>;
  } = {},
): Promise<WsClient> {
  const socket = new WebSocket(
    `${url.replace(/^http/, 'ws')}${options.path ?? '/graphql'}`,
    'graphql-transport-ws',
    options.headers ? { headers: options.headers } : undefined,
  );
  const operations = new Map<string, { onNext: (payload: any) => void; end: (v: any) => void }>();
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  let nextId = 0;
  const acked = new Promise<void>((resolve, reject) => {
    socket.once('open', () =>
      socket.send(
        JSON.stringify({
          type: 'connection_init',
          payload: {
            ...options.params,
            ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
          },
        }),
      ),
    );
    socket.on('message', (data) => {
      const message = JSON.parse(data.toString()) as WsMessage;
      if (message.type === 'connection_ack') resolve();
      else if (message.type === 'ping') socket.send(JSON.stringify({ type: 'pong' }));
      const operation = message.id !== undefined ? operations.get(message.id) : undefined;
      if (!operation) return;
      if (message.type === 'next') operation.onNext(message.payload);
      else if (message.type === 'complete') operation.end({ kind: 'complete' });
      else if (message.type === 'error') operation.end({ kind: 'error', errors: message.payload });
    });
    void closed.then(({ code, reason }) =>
      reject(Object.assign(new Error(`closed ${code} ${reason}`), { code })),
    );
  });
  await acked;
  const client: WsClient = {
    socket,
    closed,
    subscribe(payload) {
      nextId += 1;
      const id = String(nextId);
      const results: any[] = [];
      const waiters: Array<(v: any) => void> = [];
      let read = 0;
      let end: (v: any) => void = () => {};
      const ended = new Promise<any>((resolve) => {
        end = resolve;
      });
      const onNext = (payload: any) => {
        results.push(payload);
        while (waiters.length > 0 && read < results.length) waiters.shift()!(results[read++]);
      };
      operations.set(id, { onNext, end });
      socket.send(JSON.stringify({ id, type: 'subscribe', payload }));
      return {
        id,
        results,
        ended,
        next: () =>
          new Promise<any>((resolve) => {
            if (read < results.length) resolve(results[read++]);
            else waiters.push(resolve);
          }),
      };
    },
    send(message) {
      socket.send(JSON.stringify(message));
    },
    async close() {
      if (socket.readyState === WebSocket.CLOSED) return;
      socket.close(1000);
      await closed;
    },
  };
  return client;
}

/** Polls `condition` every 10 ms until it holds (or fails after `timeoutMs`). */
export async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const started = Date.now();
  while (!(await condition())) {
    if (Date.now() - started > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

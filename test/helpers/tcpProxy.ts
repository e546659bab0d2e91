// A loopback TCP proxy in front of a real server (Redis), so a test can cut the network and restore
// it without stopping the shared server: cut() destroys every connection and refuses new ones until
// restore(). stall() keeps connections open but holds every byte until restore() (a Redis that hangs).
import net from 'node:net';

export interface TcpProxy {
  /** The proxy's port on 127.0.0.1. */
  readonly port: number;
  /** `redis://127.0.0.1:<port>` for convenience. */
  readonly url: string;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Destroys every open connection and refuses (resets) new ones. */
  cut(): void;
  /** Accepts and forwards again. */
  restore(): void;
  /** Keeps sockets open but holds every byte, both ways, until restore(). */
  stall(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let mode: 'open' | 'cut' | 'stalled' = 'open';
  let accepted = 0;
  type Pair = { client: net.Socket; upstream: net.Socket; held: { to: 'up' | 'down'; chunk: Buffer }[] };
  const pairs = new Set<Pair>();
  // While stalled, bytes are held in order (none lost), as with a Redis that stopped answering.
  const forward = (pair: Pair, to: 'up' | 'down', chunk: Buffer) => {
    if (mode === 'stalled') pair.held.push({ to, chunk });
    else (to === 'up' ? pair.upstream : pair.client).write(chunk);
  };
  const server = net.createServer((client) => {
    if (mode === 'cut') {
      client.resetAndDestroy();
      return;
    }
    accepted += 1;
    const upstream = net.connect(target.port, target.host);
    const pair: Pair = { client, upstream, held: [] };
    pairs.add(pair);
    const drop = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', drop);
    upstream.on('close', drop);
    client.on('data', (chunk: Buffer) => forward(pair, 'up', chunk));
    upstream.on('data', (chunk: Buffer) => forward(pair, 'down', chunk));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('proxy: no TCP address');
  const port = address.port;
  const destroyAll = () => {
    for (const { client, upstream } of pairs) {
      client.resetAndDestroy();
      upstream.destroy();
    }
    pairs.clear();
  };
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get accepted() {
      return accepted;
    },
    cut() {
      mode = 'cut';
      destroyAll();
    },
    restore() {
      mode = 'open';
      for (const pair of pairs) {
        for (const { to, chunk } of pair.held.splice(0))
          (to === 'up' ? pair.upstream : pair.client).write(chunk);
      }
    },
    stall() {
      mode = 'stalled';
    },
    async close() {
      mode = 'cut';
      destroyAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

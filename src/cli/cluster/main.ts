// `npm run cluster -- --replicas 3`: a local replica set anyone can start. One set of simulators, N
// Junction replicas sharing Redis, HAProxy in front (HTTP and WebSocket, health checks on /readyz).
// Prints the balancer's URL and an admin token; Ctrl-C (SIGINT) or SIGTERM stops everything.
import net from 'node:net';
import { parseArgs } from 'node:util';
import { mintToken } from '../../graphql/viewer.js';
import { findHaproxy, HAPROXY_INSTALL_HINT, startCluster } from './cluster.js';

const USAGE = `Usage: npm run cluster -- [--replicas N] [--port P] [--redis URL] [--prefix P] [--source]

  --replicas N   Junction replicas, 1..16 (default 3)
  --port P       the balancer's port on 127.0.0.1 (default 4000; 0 picks a free one)
  --redis URL    Redis the replicas share (default $REDIS_URL, else redis://127.0.0.1:6379)
  --prefix P     REDIS_KEY_PREFIX (default junction-cluster:<random>: per run)
  --source       run replicas from src/ through tsx instead of dist/ (default: dist when built)

Every other variable in the environment (rate limits, TTLs, LOG_LEVEL...) reaches every replica.
Needs HAProxy (Debian: apt-get install -y haproxy).`;

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

/** True when something accepts TCP connections at the URL's host and port within 2 s. */
function reachable(redisUrl: string): Promise<boolean> {
  const url = new URL(redisUrl);
  return new Promise((resolve) => {
    const socket = net.connect(Number(url.port || 6379), url.hostname);
    socket.setTimeout(2_000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Host and port only: a URL's user and password are never printed. */
function shown(redisUrl: string): string {
  const url = new URL(redisUrl);
  return `${url.protocol}//${url.hostname}:${url.port || 6379}${url.pathname === '/' ? '' : url.pathname}`;
}

async function main(): Promise<void> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      options: {
        replicas: { type: 'string', default: '3' },
        port: { type: 'string', default: '4000' },
        redis: { type: 'string' },
        prefix: { type: 'string' },
        source: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }));
  } catch (error) {
    fail(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const replicas = Number(values.replicas);
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > 16) fail(`--replicas: 1..16\n\n${USAGE}`);
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) fail(`--port: 0..65535\n\n${USAGE}`);
  const redisUrl = (values.redis as string | undefined) ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  try {
    const parsed = new URL(redisUrl);
    if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') throw new Error('protocol');
  } catch {
    fail('--redis: a redis:// or rediss:// URL');
  }
  if (findHaproxy() === undefined) fail(HAPROXY_INSTALL_HINT);
  if (!(await reachable(redisUrl))) {
    process.stderr.write(
      `warning: nothing answers at ${shown(redisUrl)}; replicas start anyway and run on local state (budgets divided) until Redis is there.\n`,
    );
  }

  process.stderr.write(`starting simulators, ${replicas} replica(s) and HAProxy...\n`);
  const cluster = await startCluster({
    replicas,
    redisUrl,
    port,
    ...(typeof values.prefix === 'string' ? { keyPrefix: values.prefix } : {}),
    ...(values.source ? { entry: 'source' as const } : {}),
    baseEnv: process.env,
  });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`\n${signal}: stopping HAProxy, replicas and simulators...\n`);
    cluster
      .close()
      .then(() => process.exit(0))
      .catch((error: unknown) => {
        process.stderr.write(`stop failed: ${String(error)}\n`);
        process.exit(1);
      });
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  for (const replica of cluster.replicas) {
    void replica.exited.then(() => {
      if (!stopping)
        process.stderr.write(
          `replica ${replica.name} (pid ${replica.pid}) exited; HAProxy routes around it. Log: ${replica.logFile}\n`,
        );
    });
  }

  const token = await mintToken(cluster.jwtSecret, { sub: 'usr_0001', admin: true, ttlSeconds: 3600 });
  const lines = [
    '',
    `Junction cluster: ${replicas} replica(s) behind HAProxy, sharing Redis at ${shown(redisUrl)} (prefix ${cluster.keyPrefix})`,
    `  GraphQL:    ${cluster.url}/graphql   (WebSocket: ${cluster.url.replace('http', 'ws')}/graphql)`,
    `  HAProxy:    ${cluster.statsUrl}`,
    ...cluster.replicas.map((r) => `  ${r.name}:         ${r.url} (pid ${r.pid}, log ${r.logFile})`),
    `  Simulators: ${Object.entries(cluster.demos)
      .map(([name, d]) => `${name} ${d.simulator.url}`)
      .join(', ')}`,
    '',
    'Admin token (sub usr_0001, 1 h):',
    `  Authorization: Bearer ${token}`,
    '',
    'Ctrl-C stops everything.',
    '',
  ];
  process.stdout.write(lines.join('\n'));
}

main().catch((error: unknown) => {
  fail(`cluster failed to start: ${error instanceof Error ? error.message : String(error)}`);
});

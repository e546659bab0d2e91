// A multi-process replica set for tests: one set of simulators in this process, N real Junction
// child processes (src/main.ts through tsx) sharing the real Redis under a unique key prefix, and
// HAProxy in front. Optionally Redis is reached through a TCP proxy, so a test can cut it. Fails
// (never skips) when HAProxy is missing, saying how to install it.

import {
  type Cluster,
  type ClusterOptions,
  findHaproxy,
  HAPROXY_INSTALL_HINT,
  type Replica,
  startCluster,
} from '../../src/cli/cluster/cluster.js';
import { mintToken } from '../../src/graphql/viewer.js';
import type { GitHubSimulator } from '../../src/simulators/github/simulator.js';
import type { SendGridSimulator } from '../../src/simulators/sendgrid/simulator.js';
import type { StripeSimulator } from '../../src/simulators/stripe/simulator.js';
import type { TwilioSimulator } from '../../src/simulators/twilio/simulator.js';
import type { UsersSimulator } from '../../src/simulators/users/simulator.js';
import { deletePrefix, REDIS_TARGET, REDIS_URL, testPrefix } from '../unit/state/support/redis.js';
import { startTcpProxy, type TcpProxy } from './tcpProxy.js';

export interface GqlResult {
  status: number;
  body: { data?: any; errors?: any[]; extensions?: any };
}

export interface TestCluster {
  cluster: Cluster;
  /** The balancer. */
  url: string;
  replicas: Replica[];
  users: UsersSimulator;
  stripe: StripeSimulator;
  twilio: TwilioSimulator;
  sendgrid: SendGridSimulator;
  github: GitHubSimulator;
  stripeWebhookSecret: string;
  /** Redis as the replicas reach it: through `proxy` when asked for. */
  proxy: TcpProxy | undefined;
  keyPrefix: string;
  token(sub: string, opts?: { admin?: boolean }): Promise<string>;
  /** POSTs a GraphQL operation to `url` (the balancer or one replica); admin token by default. */
  gql(
    url: string,
    query: string,
    opts?: { variables?: Record<string, unknown>; token?: string; extensions?: Record<string, unknown> },
  ): Promise<GqlResult>;
  /** A replica's /metrics text. */
  metrics(replica: Replica): Promise<string>;
  close(): Promise<void>;
}

/** The value of one sample of `name{labels...}` summed over label sets matching `match` (0 when absent). */
export function metricSum(text: string, name: string, match: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labels = /\{([^}]*)\}/.exec(line)?.[1] ?? '';
    if (Object.entries(match).every(([k, v]) => labels.includes(`${k}="${v}"`)))
      sum += Number(line.split(' ').at(-1));
  }
  return sum;
}

export async function startTestCluster(
  options: {
    replicas?: number;
    env?: Record<string, string>;
    /** Replicas reach Redis through a TCP proxy the test can cut. */
    redisProxy?: boolean;
    simulators?: ClusterOptions['simulators'];
  } = {},
): Promise<TestCluster> {
  if (findHaproxy() === undefined) throw new Error(`cluster tests need HAProxy. ${HAPROXY_INSTALL_HINT}`);
  const keyPrefix = testPrefix();
  const proxy = options.redisProxy ? await startTcpProxy(REDIS_TARGET) : undefined;
  let cluster: Cluster;
  try {
    cluster = await startCluster({
      replicas: options.replicas ?? 3,
      redisUrl: proxy?.url ?? REDIS_URL,
      keyPrefix,
      entry: 'source',
      simulators: options.simulators,
      env: {
        NODE_ENV: 'test',
        LOG_LEVEL: 'warn',
        // Stop at once on SIGTERM (no readiness delay): tests close the set right after.
        SHUTDOWN_READINESS_DELAY_MS: '0',
        // One test token sends hundreds of requests a second.
        CLIENT_RATE_LIMIT_PER_MINUTE: '0',
        ...options.env,
      },
    });
  } catch (error) {
    await proxy?.close();
    await deletePrefix(keyPrefix);
    throw error;
  }
  const demos = cluster.demos;
  let admin: string | undefined;
  const token = (sub: string, opts: { admin?: boolean } = {}) =>
    mintToken(cluster.jwtSecret, { sub, admin: opts.admin ?? false, ttlSeconds: 3600 });
  return {
    cluster,
    url: cluster.url,
    replicas: cluster.replicas,
    users: demos.users.simulator as UsersSimulator,
    stripe: demos.stripe.simulator as StripeSimulator,
    twilio: demos.twilio.simulator as TwilioSimulator,
    sendgrid: demos.sendgrid.simulator as SendGridSimulator,
    github: demos.github.simulator as GitHubSimulator,
    stripeWebhookSecret: demos.stripe.webhookSecret as string,
    proxy,
    keyPrefix,
    token,
    async gql(url, query, opts = {}) {
      admin ??= await token('usr_0001', { admin: true });
      const res = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${opts.token ?? admin}` },
        body: JSON.stringify({ query, variables: opts.variables, extensions: opts.extensions }),
        signal: AbortSignal.timeout(15_000),
      });
      const text = await res.text();
      let body: GqlResult['body'];
      try {
        body = JSON.parse(text);
      } catch {
        body = { errors: [{ message: text.slice(0, 200) }] };
      }
      return { status: res.status, body };
    },
    async metrics(replica) {
      const res = await fetch(`${replica.url}/metrics`, { signal: AbortSignal.timeout(5_000) });
      return res.text();
    },
    async close() {
      try {
        await cluster.close();
      } finally {
        await proxy?.close();
        await deletePrefix(keyPrefix);
      }
    },
  };
}

/** Sleeps `ms`. */
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface LoadSample {
  /** HTTP status, or 0 when the request failed (connection error, client timeout). */
  status: number;
  /** The replica HAProxy picked (x-served-by), when answered through the balancer. */
  servedBy: string | undefined;
  /** When it was sent (ms since epoch). */
  at: number;
}

/**
 * Open-loop load: `rate` requests a second for `durationMs` to `${url}/graphql`, bodies from
 * `body(i)`, at most `maxInFlight` outstanding (the rest are not sent), each cut after `timeoutMs`.
 * Resolves once every request has settled.
 */
export async function openLoop(options: {
  url: string;
  token: string;
  rate: number;
  durationMs: number;
  body: (i: number) => unknown;
  maxInFlight?: number;
  timeoutMs?: number;
}): Promise<LoadSample[]> {
  const samples: LoadSample[] = [];
  const pending: Promise<void>[] = [];
  const maxInFlight = options.maxInFlight ?? 400;
  let inFlight = 0;
  const started = Date.now();
  for (let i = 0; ; i++) {
    const due = started + (i * 1000) / options.rate;
    if (due - started >= options.durationMs) break;
    const wait = due - Date.now();
    if (wait > 0) await sleep(wait);
    if (inFlight >= maxInFlight) continue;
    inFlight += 1;
    const at = Date.now();
    pending.push(
      fetch(`${options.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${options.token}` },
        body: JSON.stringify(options.body(i)),
        signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
      })
        .then(async (res) => {
          await res.arrayBuffer();
          samples.push({ status: res.status, servedBy: res.headers.get('x-served-by') ?? undefined, at });
        })
        .catch(() => {
          samples.push({ status: 0, servedBy: undefined, at });
        })
        .finally(() => {
          inFlight -= 1;
        }),
    );
  }
  await Promise.all(pending);
  return samples;
}

/** The most requests found in any sliding window of `windowMs` (timestamps in ms). */
export function maxInWindow(times: number[], windowMs = 1000): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  let lo = 0;
  for (let hi = 0; hi < sorted.length; hi++) {
    while ((sorted[hi] as number) - (sorted[lo] as number) >= windowMs) lo += 1;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}

/** Resolves once `count()` has not changed for `quietMs` (or after `timeoutMs`). */
export async function settled(count: () => number, quietMs = 500, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = count();
  let since = Date.now();
  while (Date.now() < deadline) {
    await sleep(50);
    const now = count();
    if (now !== last) {
      last = now;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) return;
  }
}

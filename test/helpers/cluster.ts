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

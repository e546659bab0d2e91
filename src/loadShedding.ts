// Load shedding: while the process is overloaded (event-loop delay or utilisation, heap, RSS over
// their thresholds, sampled by @fastify/under-pressure), new work is answered at once with 503,
// Retry-After and a GraphQL error SERVICE_OVERLOADED, instead of joining a queue in which every
// request would time out. What is already running keeps running. Liveness, readiness and metrics
// are always answered: a process that sheds is alive and worth keeping in the balancer (pulling
// every overloaded replica at once would turn a spike into an outage), and its metrics explain why.
// The WebSocket follows the same rule (subscriptions.ts refuses upgrades, the edge refuses
// operations, through `overloaded()`).
import underPressure from '@fastify/under-pressure';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { decimal, integer, type Values } from './configSchema.js';

/** The load-shedding section of the config, written once. Every threshold: 0 turns it off. */
export const loadSheddingFields = {
  maxInFlight: integer('LOAD_SHED_MAX_IN_FLIGHT', {
    min: 0,
    max: 1_000_000,
    default: 1024,
    doc: 'HTTP requests served at once (health, readiness, metrics not counted); beyond, each new one gets 503 `SERVICE_OVERLOADED` at once. Set near capacity × acceptable latency; `0` turns it off.',
  }),
  maxEventLoopDelayMs: integer('LOAD_SHED_MAX_EVENT_LOOP_DELAY_MS', {
    min: 0,
    max: 600_000,
    default: 0,
    unit: 'ms',
    doc: 'Shed everything while the sampled mean event-loop delay is over this; `0`: off. Acts a sample late: prefer the in-flight limit.',
  }),
  maxEventLoopUtilization: decimal('LOAD_SHED_MAX_EVENT_LOOP_UTILIZATION', {
    min: 0,
    max: 1,
    default: 0,
    expected: 'a number 0..1 (0 turns it off)',
    doc: 'Shed everything while the sampled event-loop utilisation (0..1) is over this; `0`: off.',
  }),
  maxHeapUsedBytes: integer('LOAD_SHED_MAX_HEAP_USED_BYTES', {
    min: 0,
    max: 2 ** 40,
    default: 0,
    unit: 'bytes',
    doc: 'Shed everything while the V8 heap in use is over this; `0`: off.',
  }),
  maxRssBytes: integer('LOAD_SHED_MAX_RSS_BYTES', {
    min: 0,
    max: 2 ** 40,
    default: 0,
    unit: 'bytes',
    doc: 'Shed everything while the resident set size is over this (set it below a container limit); `0`: off.',
  }),
  retryAfterSeconds: integer('LOAD_SHED_RETRY_AFTER_SECONDS', {
    min: 1,
    max: 3_600,
    default: 2,
    unit: 's',
    doc: '`Retry-After` of a shed request.',
  }),
  sampleIntervalMs: integer('LOAD_SHED_SAMPLE_INTERVAL_MS', {
    min: 100,
    max: 60_000,
    default: 500,
    unit: 'ms',
    doc: 'How often the event loop, heap and RSS are sampled (at least 100 ms).',
  }),
};

export type LoadSheddingLimits = Values<typeof loadSheddingFields>;

export type PressureReason =
  | 'inFlight'
  | 'eventLoopDelay'
  | 'eventLoopUtilization'
  | 'heapUsedBytes'
  | 'rssBytes';

/** Routes never shed: liveness, readiness, metrics. */
const ALWAYS_SERVED = new Set(['/healthz', '/readyz', '/metrics']);

export interface LoadState {
  /** Shedding now. */
  underPressure: boolean;
  /** The first measure over its threshold, when shedding. */
  reason: PressureReason | undefined;
  /** HTTP requests being served now (liveness, readiness and metrics not counted). */
  inFlight: number;
  /** Mean event-loop delay over the last sample, in ms. */
  eventLoopDelayMs: number;
  /** Event-loop utilisation over the last sample, 0..1. */
  eventLoopUtilization: number;
  heapUsedBytes: number;
  rssBytes: number;
  /** The thresholds in force (0: off). */
  limits: LoadSheddingLimits;
}

export interface Overload {
  reason: PressureReason;
  /** What Retry-After says, in seconds. */
  retryAfterSeconds: number;
}

export interface LoadShedder {
  /** Why and for how long to back off, while shedding; undefined when there is room. */
  overloaded(): Overload | undefined;
  /** The measures and the decision, for /readyz and metrics. */
  state(): LoadState;
}

export interface LoadSheddingOptions {
  limits: LoadSheddingLimits;
  /** Told of every request or WebSocket upgrade refused. */
  onShed?: (reason: PressureReason, transport: 'http' | 'ws') => void;
}

/** The GraphQL-shaped body of a shed request (any route: a GraphQL client reads it as such). */
export function overloadedBody(retryAfterSeconds: number) {
  return {
    errors: [
      {
        message: `The server is overloaded; retry after ${retryAfterSeconds} s`,
        extensions: { code: 'SERVICE_OVERLOADED', retryAfter: retryAfterSeconds },
      },
    ],
  };
}

/** Registers the sampler and the onRequest check on `server` (root scope: every route). */
export async function registerLoadShedding(
  server: FastifyInstance,
  options: LoadSheddingOptions,
): Promise<LoadShedder> {
  const { limits } = options;
  const retryAfter = limits.retryAfterSeconds;
  const refuse = (reply: FastifyReply, reason: PressureReason) => {
    options.onShed?.(reason, 'http');
    // Answered here: the hooks and handler that follow are skipped for a sent reply.
    void reply.code(503).header('retry-after', String(retryAfter)).send(overloadedBody(retryAfter));
  };
  await server.register(underPressure, {
    maxEventLoopDelay: limits.maxEventLoopDelayMs,
    maxEventLoopUtilization: limits.maxEventLoopUtilization,
    // Utilisation over the last sample, not since the process started.
    eventLoopUtilizationMode: 'interval',
    maxHeapUsedBytes: limits.maxHeapUsedBytes,
    maxRssBytes: limits.maxRssBytes,
    sampleInterval: limits.sampleIntervalMs,
    retryAfter,
    pressureHandler: (request, reply, type) => {
      if (ALWAYS_SERVED.has(request.routeOptions.url ?? '')) return; // served as usual
      refuse(reply, type as PressureReason);
    },
  });

  // Requests in flight: a bound on concurrent work is a bound on its latency (Little's law), and it
  // acts on each request, where the sampled measures above act a sample late, all or nothing.
  let inFlight = 0;
  if (limits.maxInFlight > 0) {
    server.addHook('onRequest', (request, reply, done) => {
      if (ALWAYS_SERVED.has(request.routeOptions.url ?? '')) return done();
      if (inFlight >= limits.maxInFlight) return refuse(reply, 'inFlight');
      inFlight += 1;
      // 'close' comes once, whether the response finished or the client went away.
      reply.raw.once('close', () => {
        inFlight -= 1;
      });
      done();
    });
  }

  const reasonOf = (m: ReturnType<FastifyInstance['memoryUsage']>): PressureReason | undefined => {
    if (limits.maxInFlight > 0 && inFlight >= limits.maxInFlight) return 'inFlight';
    // The same order as under-pressure's own check.
    if (limits.maxEventLoopDelayMs > 0 && m.eventLoopDelay > limits.maxEventLoopDelayMs)
      return 'eventLoopDelay';
    if (limits.maxHeapUsedBytes > 0 && m.heapUsed > limits.maxHeapUsedBytes) return 'heapUsedBytes';
    if (limits.maxRssBytes > 0 && m.rssBytes > limits.maxRssBytes) return 'rssBytes';
    if (limits.maxEventLoopUtilization > 0 && m.eventLoopUtilized > limits.maxEventLoopUtilization)
      return 'eventLoopUtilization';
    return undefined;
  };

  return {
    overloaded: () => {
      const reason = reasonOf(server.memoryUsage());
      return reason === undefined ? undefined : { reason, retryAfterSeconds: retryAfter };
    },
    state: () => {
      const m = server.memoryUsage();
      const reason = reasonOf(m);
      return {
        underPressure: reason !== undefined,
        reason,
        inFlight,
        // Infinity until a first sample with data (under-pressure's own convention): shown as null in JSON.
        eventLoopDelayMs: m.eventLoopDelay,
        eventLoopUtilization: m.eventLoopUtilized,
        heapUsedBytes: m.heapUsed,
        rssBytes: m.rssBytes,
        limits,
      };
    },
  };
}

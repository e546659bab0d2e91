// A provider simulator: a real loopback node:http server (server.ts) whose requests are recorded
// (recorder.ts), routed (router.ts), put through fault injection (faults.ts, faultEffects.ts) and
// answered by handlers over the wire helpers (wire.ts), with optional ETag/304 handling (etag.ts).
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { applyEtag } from './etag.js';
import { answerInstead, writeAnswer } from './faultEffects.js';
import type { FaultController, FaultRule } from './faults.js';
import { createFaultEngine } from './faults.js';
import type { ProviderErrorShape } from './providerFaults.js';
import { providerFaultController } from './providerFaults.js';
import type { CountFilter, RecordedRequest } from './recorder.js';
import { createRecorder } from './recorder.js';
import type { Route } from './router.js';
import { createRouter } from './router.js';
import { createServerLifecycle } from './server.js';
import type { WireResponse } from './wire.js';
import { answerOf, readBody, toSimRequest, toWire, writeWire } from './wire.js';

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

/** The options every provider simulator takes, whatever it simulates. */
export interface ProviderSimulatorOptions {
  /** Interface to listen on. Default: `127.0.0.1` (loopback only). */
  host?: string;
  /** Port to listen on. Default: 0, a random free port. */
  port?: number;
  /**
   * Fault rules installed at creation, e.g. from `faultRulesFromEnv`; a provider's error statuses get its
   * own error body and headers (see `errorShape`). Default: none.
   */
  faults?: readonly FaultRule[];
}

export interface SimulatorOptions extends ProviderSimulatorOptions {
  /** Name used in messages, e.g. `users`. */
  name: string;
  /** Routes, tried in order; the first whose method and path match answers. */
  routes: Route[];
  /** Adds a strong ETag (sha1 of the body) to 200 JSON answers to GET and answers 304 when If-None-Match matches. Default: false. */
  etag?: boolean;
  /** Header carrying the simulator's generated request id (`req_<hex>`). Default: `x-request-id`. */
  requestIdHeader?: string;
  /**
   * The provider's body and headers for an error status: injected error statuses (rules given here and
   * added later through `faults`) answer in the provider's own shape unless the rule sets a body.
   * Default: none (a generic `{error:{message}}` body).
   */
  errorShape?: ProviderErrorShape;
  /** Random source for fault probability and jitter. Default: Math.random. */
  random?: () => number;
  /** Runs at the start of `close()`, before the server stops (e.g. stop a webhook outbox). Default: none. */
  onClose?: () => void;
  /** Runs after `resetCounters()` has emptied `requests` (e.g. reset provider-specific counters). Default: none. */
  onReset?: () => void;
}

export function createSimulator(opts: SimulatorOptions): Simulator {
  const { name, errorShape } = opts;
  const requestIdHeader = (opts.requestIdHeader ?? 'x-request-id').toLowerCase();
  const router = createRouter(opts.routes);
  const recorder = createRecorder();
  const engine = createFaultEngine(opts.random ? { random: opts.random } : {});
  const faults = errorShape === undefined ? engine : providerFaultController(engine, errorShape);
  for (const rule of opts.faults ?? []) faults.add(rule);

  const handle = async (req: IncomingMessage, res: ServerResponse, signal: AbortSignal): Promise<void> => {
    const rawBody = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://simulator.invalid');
    const method = (req.method ?? 'GET').toUpperCase();
    const path = url.pathname;
    const match = router.find(method, path);
    const requestId = `req_${randomBytes(8).toString('hex')}`;
    recorder.record({
      method,
      path,
      route: match?.name,
      query: new URLSearchParams(url.searchParams),
      headers: req.headers,
      body: rawBody.toString('utf8'),
      at: Date.now(),
    });

    const { delayMs, outcome } = engine.decide({ method, route: match?.name, path });
    if (delayMs > 0) {
      try {
        await sleep(delayMs, undefined, { signal });
      } catch {
        req.socket.destroy(); // the simulator closed while this request was delayed
        return;
      }
    }
    const baseHeaders = { [requestIdHeader]: requestId };
    if (answerInstead(outcome, req.socket, res, baseHeaders)) return;

    let wire: WireResponse;
    if (match === undefined) {
      wire = toWire(
        { status: 404, body: { error: { message: `no route for ${method} ${path} on simulator ${name}` } } },
        baseHeaders,
      );
    } else {
      const simReq = toSimRequest(
        method,
        path,
        match.params,
        url.searchParams,
        req.headers,
        rawBody,
        requestId,
      );
      wire = await answerOf(match.route.handler, simReq, baseHeaders);
    }
    if (opts.etag && method === 'GET') wire = applyEtag(wire, req.headers['if-none-match']);
    writeAnswer(outcome, req.socket, res, wire);
  };

  const server = createServerLifecycle({
    name,
    host: opts.host,
    port: opts.port,
    onRequest(req, res, signal) {
      handle(req, res, signal).catch((error: unknown) => {
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
    },
  });

  return {
    name,
    start: () => server.start(),
    async close() {
      opts.onClose?.();
      await server.close();
    },
    get url() {
      return server.url;
    },
    requests: recorder.requests,
    count: (filter) => recorder.count(filter),
    resetCounters() {
      recorder.reset();
      opts.onReset?.();
    },
    faults,
  };
}

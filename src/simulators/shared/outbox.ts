// Webhook delivery for all provider simulators: POSTs off the request path, retries with backoff,
// records every attempt, and can be awaited.
import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';

/** One HTTP attempt at delivering a message. */
export interface DeliveryAttempt {
  /** Sequence number of the message (1, 2, ...), shared by all of its attempts. */
  deliveryId: number;
  /** What was delivered, e.g. an event type such as `payment_intent.succeeded`. */
  label: string;
  url: string;
  /** 1 for the first try, 2 for the first retry, ... */
  attempt: number;
  /** HTTP status of the answer, or undefined when the request failed (refused, reset, timed out). */
  status: number | undefined;
  /** True for a 2xx answer. */
  ok: boolean;
  /** Network error message, when `status` is undefined. */
  error?: string;
  /** Wall-clock time (ms since epoch) at which the attempt finished. */
  at: number;
  /** The exact body that was sent. */
  body: string;
  /** The headers that were sent (lower-case names). */
  headers: Record<string, string>;
}

/** A message to deliver. `build` runs once per attempt, so each retry can carry a fresh timestamp and signature. */
export interface OutboxMessage {
  url: string;
  label: string;
  build(): { headers: Record<string, string>; body: string };
}

export interface OutboxOptions {
  /** Waits before each retry, in ms; its length is the number of retries. Default: [100, 400, 1600] (3 retries). */
  retryDelaysMs?: readonly number[];
  /** Per-attempt timeout in ms; a slower receiver counts as a failed attempt. Default: 5000 (5s). */
  timeoutMs?: number;
}

export interface Outbox {
  /** Queues a message; delivery starts on a later tick, so the caller's HTTP answer is never held up. */
  send(message: OutboxMessage): void;
  /** Runs `task` after `delayMs` (for staged status changes); `flush()` waits for it, `close()` cancels it. */
  defer(delayMs: number, task: () => void): void;
  /** Every attempt so far, in the order they finished. */
  readonly attempts: DeliveryAttempt[];
  /** Resolves once everything queued or deferred, including what that queues in turn, has finished or given up. */
  flush(): Promise<void>;
  /** Messages and deferred tasks not yet finished. */
  pending(): number;
  /** Cancels pending retries and deferred tasks and aborts attempts in flight; later sends are delivered normally. */
  close(): void;
}

export const DEFAULT_RETRY_DELAYS_MS: readonly number[] = [100, 400, 1600];

export function createOutbox(opts: OutboxOptions = {}): Outbox {
  const retryDelaysMs = [...(opts.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS)];
  for (const delay of retryDelaysMs) checkDelay(delay, 'retryDelaysMs entry');
  const timeoutMs = opts.timeoutMs ?? 5000; // 5s
  const attempts: DeliveryAttempt[] = [];
  const inFlight = new Set<Promise<void>>();
  let lifetime = lifetimeController();
  let nextId = 1;

  const track = (work: Promise<void>): void => {
    const tracked = work.catch(() => undefined).finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
  };

  const deliver = async (message: OutboxMessage, deliveryId: number, signal: AbortSignal): Promise<void> => {
    await sleep(0, undefined, { signal, ref: false });
    for (let attempt = 1; attempt <= retryDelaysMs.length + 1; attempt++) {
      if (attempt > 1) await sleep(retryDelaysMs[attempt - 2] ?? 0, undefined, { signal, ref: false });
      const { headers, body } = message.build();
      const record: DeliveryAttempt = {
        deliveryId,
        label: message.label,
        url: message.url,
        attempt,
        status: undefined,
        ok: false,
        at: 0,
        body,
        headers: lowerCaseKeys(headers),
      };
      try {
        const res = await fetch(message.url, {
          method: 'POST',
          headers,
          body,
          redirect: 'manual',
          signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
        });
        await res.arrayBuffer().catch(() => undefined); // drain so the socket can be reused
        record.status = res.status;
        record.ok = res.status >= 200 && res.status < 300;
      } catch (error) {
        record.error = describe(error);
      }
      record.at = Date.now();
      if (signal.aborted) return; // closed mid-attempt: the attempt never really finished
      attempts.push(record);
      if (record.ok) return;
    }
  };

  return {
    send(message) {
      track(deliver(message, nextId++, lifetime.signal));
    },
    defer(delayMs, task) {
      checkDelay(delayMs, 'delayMs');
      const signal = lifetime.signal;
      track(
        sleep(delayMs, undefined, { signal, ref: false }).then(() => {
          if (!signal.aborted) task();
        }),
      );
    },
    attempts,
    async flush() {
      while (inFlight.size > 0) await Promise.all([...inFlight]);
    },
    pending: () => inFlight.size,
    close() {
      lifetime.abort();
      lifetime = lifetimeController();
    },
  };
}

/** Every pending delivery listens on this signal; many at once is normal, not a leak. */
function lifetimeController(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}

function checkDelay(value: number, what: string): void {
  if (!(typeof value === 'number' && Number.isFinite(value) && value >= 0)) {
    throw new TypeError(`${what} must be a finite number of ms >= 0, but got: ${String(value)}`);
  }
}

function lowerCaseKeys(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
    return `${error.message}${cause}`;
  }
  return String(error);
}

// Small helpers for AbortSignal plumbing shared by the upstream layer.

/**
 * Resolves or rejects like `promise`, but rejects with the signal's reason as soon as `signal`
 * aborts. The underlying work is not cancelled: use it when several callers share one promise.
 */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) {
    // Nobody else may be listening to the shared work: its failure must not go unhandled.
    promise.catch(() => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** AbortSignal.timeout() aborts with a DOMException named TimeoutError: a deadline, not a client. */
export function isTimeoutReason(reason: unknown): boolean {
  return (
    typeof reason === 'object' && reason !== null && (reason as { name?: unknown }).name === 'TimeoutError'
  );
}

/**
 * A signal that aborts with a TimeoutError after `ms`, and a function that cancels the timer.
 * Used instead of AbortSignal.timeout(), whose timer stays alive until it fires: at thousands of
 * requests a second, every finished request would leave a live timer (and its signal) behind for
 * the rest of its timeout. The timer's closure holds the controller, so it fires even when only
 * AbortSignal.any() refers to the signal.
 */
export function deadlineSignal(ms: number): { signal: AbortSignal; cancel: () => void } {
  const controller = new AbortController();
  const timer = setTimeout(() => {
    controller.abort(new DOMException(`The operation timed out after ${ms} ms`, 'TimeoutError'));
  }, ms);
  timer.unref?.();
  return { signal: controller.signal, cancel: () => clearTimeout(timer) };
}

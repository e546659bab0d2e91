// In-process publish/subscribe for GraphQL subscriptions. Built once at startup; each subscriber
// gets a bounded async iterator, so a slow client drops old updates instead of growing memory.

export interface PubSubOptions {
  /** Updates buffered per subscriber before the oldest is dropped. Default 100. */
  bufferSize?: number;
}

export class PubSub<T = unknown> {
  private readonly topics = new Map<string, Set<(value: T) => void>>();
  private readonly bufferSize: number;

  constructor(options: PubSubOptions = {}) {
    this.bufferSize = options.bufferSize ?? 100;
  }

  /** Delivers `value` to every current subscriber of `topic`; returns how many there were. */
  publish(topic: string, value: T): number {
    const listeners = this.topics.get(topic);
    if (!listeners) return 0;
    for (const listener of listeners) listener(value);
    return listeners.size;
  }

  subscriberCount(topic: string): number {
    return this.topics.get(topic)?.size ?? 0;
  }

  /** An async iterator of `topic`'s values from now on; `return()` (client unsubscribes) cleans up. */
  subscribe(topic: string): AsyncIterableIterator<T> {
    const queue: T[] = [];
    let waiting: ((result: IteratorResult<T>) => void) | undefined;
    let done = false;
    const listener = (value: T) => {
      if (waiting) {
        const resolve = waiting;
        waiting = undefined;
        resolve({ value, done: false });
        return;
      }
      queue.push(value);
      if (queue.length > this.bufferSize) queue.shift();
    };
    let listeners = this.topics.get(topic);
    if (!listeners) {
      listeners = new Set();
      this.topics.set(topic, listeners);
    }
    listeners.add(listener);
    const stop = () => {
      done = true;
      const set = this.topics.get(topic);
      set?.delete(listener);
      if (set && set.size === 0) this.topics.delete(topic);
      waiting?.({ value: undefined, done: true });
      waiting = undefined;
    };
    const iterator: AsyncIterableIterator<T> = {
      next: () => {
        if (queue.length > 0) return Promise.resolve({ value: queue.shift() as T, done: false });
        if (done) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => {
          waiting = resolve;
        });
      },
      return: () => {
        stop();
        return Promise.resolve({ value: undefined, done: true });
      },
      throw: (error?: unknown) => {
        stop();
        return Promise.reject(error);
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }
}

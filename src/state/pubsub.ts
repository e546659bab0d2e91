// Publish/subscribe for GraphQL subscriptions. Each subscriber gets a bounded async iterator (a slow
// client drops old updates instead of growing memory), on whichever replica holds its socket. With
// Redis, a push is published on one channel of the namespace (the topic inside the message) and every
// replica's one subscriber connection hands it to its local subscribers; the publishing replica gets
// it back the same way, so nobody receives it twice. While Redis is degraded, pushes stay local.
import { decode, encode } from './codec.js';
import type { RedisConnection } from './redis.js';

export interface PushBus<T = unknown> {
  /** True when pushes reach subscribers on every replica (Redis). */
  readonly distributed: boolean;
  /** Delivers `value` to every current subscriber of `topic`, on every replica. */
  publish(topic: string, value: T): Promise<void>;
  /**
   * False only when no subscriber of `topic` can exist anywhere, so a publisher may skip building the
   * value: in-process, when this process has none; with Redis, never while Redis is up.
   */
  mayHaveSubscribers(topic: string): boolean;
  /** Subscribers of `topic` on this replica. */
  subscriberCount(topic: string): number;
  /** An async iterator of `topic`'s values from now on; `return()` (client unsubscribes) cleans up. */
  subscribe(topic: string): AsyncIterableIterator<T>;
}

export interface LocalPushBusOptions {
  /** Updates buffered per subscriber before the oldest is dropped. Default 100. */
  bufferSize?: number | undefined;
}

/** In-process: what one Junction process has always done (webhooks/pubsub.ts's PubSub). */
export class LocalPushBus<T = unknown> implements PushBus<T> {
  readonly distributed = false;
  private readonly topics = new Map<string, Set<(value: T) => void>>();
  private readonly bufferSize: number;

  constructor(options: LocalPushBusOptions = {}) {
    this.bufferSize = options.bufferSize ?? 100;
  }

  async publish(topic: string, value: T): Promise<void> {
    this.deliver(topic, value);
  }

  /** Hands `value` to this process's subscribers of `topic` now; returns how many there were. */
  deliver(topic: string, value: T): number {
    const listeners = this.topics.get(topic);
    if (!listeners) return 0;
    for (const listener of listeners) listener(value);
    return listeners.size;
  }

  mayHaveSubscribers(topic: string): boolean {
    return this.subscriberCount(topic) > 0;
  }

  subscriberCount(topic: string): number {
    return this.topics.get(topic)?.size ?? 0;
  }

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

const PUSH_CHANNEL = 'push';

export interface RedisPushBusOptions extends LocalPushBusOptions {
  connection: RedisConnection;
  /** Largest encoded push, in bytes. Trap: a larger value is refused (RangeError), not truncated. */
  maxValueBytes: number;
}

export class RedisPushBus<T = unknown> implements PushBus<T> {
  readonly distributed = true;
  private readonly connection: RedisConnection;
  private readonly local: LocalPushBus<T>;
  private readonly maxValueBytes: number;
  private readonly unsubscribe: () => void;

  constructor(options: RedisPushBusOptions) {
    this.connection = options.connection;
    this.maxValueBytes = options.maxValueBytes;
    this.local = new LocalPushBus<T>(options);
    this.unsubscribe = this.connection.subscribe(PUSH_CHANNEL, (message) => this.onMessage(message));
  }

  async publish(topic: string, value: T): Promise<void> {
    const bytes = encode({ t: topic, v: value });
    if (!bytes || bytes.length > this.maxValueBytes) {
      throw new RangeError(
        `push on ${JSON.stringify(topic.slice(0, 100))}: expected a serializable value of at most ${this.maxValueBytes} bytes, got ${bytes ? `${bytes.length} bytes` : 'one that cannot be serialized'}`,
      );
    }
    let published = false;
    if (this.connection.state === 'up') {
      try {
        await this.connection.publish(PUSH_CHANNEL, bytes);
        published = true;
      } catch {
        // Redis away: this replica's subscribers still get it.
      }
    }
    // Delivered here directly only when Redis will not bring it back to this replica.
    if (!published || !this.connection.isSubscribed(PUSH_CHANNEL)) this.local.deliver(topic, value);
  }

  mayHaveSubscribers(topic: string): boolean {
    return this.connection.state === 'up' || this.local.mayHaveSubscribers(topic);
  }

  subscriberCount(topic: string): number {
    return this.local.subscriberCount(topic);
  }

  subscribe(topic: string): AsyncIterableIterator<T> {
    return this.local.subscribe(topic);
  }

  /** Stops receiving pushes from Redis. */
  close(): void {
    this.unsubscribe();
  }

  private onMessage(message: Buffer): void {
    const decoded = decode(message, this.maxValueBytes)?.value;
    if (typeof decoded !== 'object' || decoded === null) return;
    const { t, v } = decoded as { t?: unknown; v?: unknown };
    if (typeof t !== 'string') return;
    this.local.deliver(t, v as T);
  }
}

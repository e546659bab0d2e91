// Two counters over a sliding time window, kept in a ring of 10 time buckets: the breaker counts
// calls and failures, the retry budget counts requests and retries. Buckets age by time, not by
// later writes, so an idle spell forgets old traffic.

const BUCKETS = 10;

export class SlidingWindowCounts {
  private readonly bucketMs: number;
  // Slot i holds the counts of time bucket keys[i] (time / bucketMs).
  private readonly keys = new Array<number>(BUCKETS).fill(Number.NEGATIVE_INFINITY);
  private readonly first = new Array<number>(BUCKETS).fill(0);
  private readonly second = new Array<number>(BUCKETS).fill(0);

  /** `windowMs` is split into 10 buckets, so entries expire up to windowMs/10 early. */
  constructor(
    windowMs: number,
    private readonly now: () => number,
  ) {
    this.bucketMs = windowMs / BUCKETS;
  }

  /** Adds to the first and second counters of the current bucket. */
  add(first: number, second: number): void {
    const key = Math.floor(this.now() / this.bucketMs);
    const slot = ((key % BUCKETS) + BUCKETS) % BUCKETS;
    if (this.keys[slot] !== key) {
      this.keys[slot] = key;
      this.first[slot] = 0;
      this.second[slot] = 0;
    }
    this.first[slot] = (this.first[slot] ?? 0) + first;
    this.second[slot] = (this.second[slot] ?? 0) + second;
  }

  /** Both counters summed over the window. */
  totals(): [first: number, second: number] {
    const current = Math.floor(this.now() / this.bucketMs);
    let first = 0;
    let second = 0;
    for (let i = 0; i < BUCKETS; i++) {
      if ((this.keys[i] ?? Number.NEGATIVE_INFINITY) > current - BUCKETS) {
        first += this.first[i] ?? 0;
        second += this.second[i] ?? 0;
      }
    }
    return [first, second];
  }

  reset(): void {
    this.keys.fill(Number.NEGATIVE_INFINITY);
    this.first.fill(0);
    this.second.fill(0);
  }
}

// Newest-first listings with cursors, as Stripe and Twilio page: ordered by creation time, ties broken
// by insertion order (newest last inserted first), and a cursor may name any item, even one the filter drops.

export interface NewestFirstList<T> {
  /** The kept items, newest first. */
  readonly items: readonly T[];
  /** Kept items older than the item with `key` (the pages after it), newest first; undefined for an unknown key. */
  olderThan(key: string): T[] | undefined;
  /** Kept items newer than the item with `key` (the pages before it), newest first; undefined for an unknown key. */
  newerThan(key: string): T[] | undefined;
}

export interface NewestFirstOrder<T> {
  /** The id a cursor names the item by. */
  key(item: T): string;
  /** Creation time, in any unit that orders (seconds, ms). */
  createdAt(item: T): number;
  /** Which items the listing shows. Default: all. */
  keep?(item: T): boolean;
}

/** Orders `all` (in insertion order, e.g. a Map's values) newest first. */
export function newestFirst<T>(all: Iterable<T>, order: NewestFirstOrder<T>): NewestFirstList<T> {
  const ranked = [...all].map((item, index) => ({ item, index, at: order.createdAt(item) }));
  type Ranked = (typeof ranked)[number];
  const rankOf = new Map(ranked.map((r) => [order.key(r.item), r]));
  /** Negative when `a` is newer than `b`. */
  const newerFirst = (a: Ranked, b: Ranked) => b.at - a.at || b.index - a.index;
  const kept = ranked.filter((r) => order.keep?.(r.item) ?? true).sort(newerFirst);
  const relativeTo = (key: string, older: boolean): T[] | undefined => {
    const cursor = rankOf.get(key);
    if (cursor === undefined) return undefined;
    return kept
      .filter((r) => (older ? newerFirst(r, cursor) > 0 : newerFirst(r, cursor) < 0))
      .map((r) => r.item);
  };
  return {
    items: kept.map((r) => r.item),
    olderThan: (key) => relativeTo(key, true),
    newerThan: (key) => relativeTo(key, false),
  };
}

/** The last `n` of `items`: the page just before a cursor, when `items` are all that come before it. */
export function lastN<T>(items: readonly T[], n: number): T[] {
  return items.slice(Math.max(0, items.length - n));
}

// Newest-first listings with cursors, the order Stripe's and Twilio's simulators page in.
import { describe, expect, it } from 'vitest';
import { lastN, newestFirst } from '../../../src/simulators/shared/newestFirst.js';

interface Item {
  id: string;
  at: number;
  owner: string;
}

// Inserted oldest first; b and c share a creation time, so insertion order breaks the tie (c is newer).
const items: Item[] = [
  { id: 'a', at: 1, owner: 'x' },
  { id: 'b', at: 2, owner: 'y' },
  { id: 'c', at: 2, owner: 'x' },
  { id: 'd', at: 3, owner: 'x' },
];
const order = { key: (i: Item) => i.id, createdAt: (i: Item) => i.at };
const ids = (list: readonly Item[] | undefined) => list?.map((i) => i.id);

describe('newestFirst', () => {
  it('orders by creation time, newest first, ties by later insertion first', () => {
    expect(ids(newestFirst(items, order).items)).toEqual(['d', 'c', 'b', 'a']);
  });

  it('lists what is older or newer than a cursor, the cursor itself excluded', () => {
    const list = newestFirst(items, order);
    expect(ids(list.olderThan('c'))).toEqual(['b', 'a']);
    expect(ids(list.newerThan('b'))).toEqual(['d', 'c']);
    expect(ids(list.olderThan('a'))).toEqual([]);
  });

  it('keeps only what the filter keeps, yet a cursor may name a dropped item', () => {
    const list = newestFirst(items, { ...order, keep: (i) => i.owner === 'x' });
    expect(ids(list.items)).toEqual(['d', 'c', 'a']);
    expect(ids(list.olderThan('b'))).toEqual(['a']);
    expect(ids(list.newerThan('b'))).toEqual(['d', 'c']);
  });

  it('answers undefined for a cursor that names no item', () => {
    const list = newestFirst(items, order);
    expect(list.olderThan('zz')).toBeUndefined();
    expect(list.newerThan('zz')).toBeUndefined();
  });
});

describe('lastN', () => {
  it('takes the last n, or all when there are fewer', () => {
    expect(lastN([1, 2, 3, 4], 2)).toEqual([3, 4]);
    expect(lastN([1, 2], 5)).toEqual([1, 2]);
  });
});

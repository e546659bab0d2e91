// Turns any cursor- or page-token-paged upstream list into a Relay connection. Our cursors are
// opaque: they hold the upstream cursor of a page plus an offset into it, so every edge gets a
// cursor even when the provider only hands out one per page.
import type { Connection, Edge } from '../models/connection.js';

/** A cursor we did not issue (or one tampered with). The GraphQL layer answers BAD_USER_INPUT. */
export class InvalidCursorError extends Error {
  readonly code = 'INVALID_CURSOR';
  constructor(cursor: string) {
    const shown = cursor.length > 64 ? `${cursor.slice(0, 64)}...` : cursor;
    super(
      `"${shown}" is not a cursor this API issued; pass a pageInfo.endCursor or edge cursor back unchanged`,
    );
    this.name = 'InvalidCursorError';
  }
}

export function isInvalidCursorError(error: unknown): error is InvalidCursorError {
  return error instanceof InvalidCursorError;
}

interface PagePosition {
  /** The upstream cursor (or page token) of the page; null for the first page. */
  upstream: string | null;
  /** Items of that page to skip. */
  offset: number;
}

const CURSOR_VERSION = 'v1';

export function encodeCursor(namespace: string, position: PagePosition): string {
  return Buffer.from(
    JSON.stringify([CURSOR_VERSION, namespace, position.upstream, position.offset]),
  ).toString('base64url');
}

export function decodeCursor(namespace: string, cursor: string): PagePosition {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (
      Array.isArray(parsed) &&
      parsed.length === 4 &&
      parsed[0] === CURSOR_VERSION &&
      parsed[1] === namespace &&
      (parsed[2] === null || typeof parsed[2] === 'string') &&
      Number.isInteger(parsed[3]) &&
      parsed[3] >= 0 &&
      parsed[3] <= 10_000
    ) {
      return { upstream: parsed[2], offset: parsed[3] };
    }
  } catch {
    // fall through
  }
  throw new InvalidCursorError(cursor);
}

export interface UpstreamPage<T> {
  items: T[];
  /** Cursor or token of the next page; null when this is the last one. */
  next: string | null;
}

export interface PaginateOptions<T> {
  /** Distinguishes cursors of different lists, so one list's cursor is refused by another. */
  namespace: string;
  first: number;
  after: string | null | undefined;
  /** The provider's largest page. */
  maxPageSize: number;
  fetchPage: (upstreamCursor: string | null, limit: number) => Promise<UpstreamPage<T>>;
}

/** Fetches as few upstream pages as it takes to return `first` items after `after`. */
export async function paginate<T>(options: PaginateOptions<T>): Promise<Connection<T>> {
  const { namespace, first, maxPageSize } = options;
  let position: PagePosition = options.after
    ? decodeCursor(namespace, options.after)
    : { upstream: null, offset: 0 };
  const edges: Edge<T>[] = [];
  let hasNextPage = false;
  // Bounded: each round either fills edges or moves to the next upstream page.
  for (let round = 0; round < 1_000; round += 1) {
    const need = first - edges.length;
    const limit = Math.max(1, Math.min(maxPageSize, position.offset + need));
    const page = await options.fetchPage(position.upstream, limit);
    const available = page.items.slice(position.offset);
    const taken = available.slice(0, need);
    taken.forEach((node, i) => {
      const index = position.offset + i + 1;
      const atEnd = index >= page.items.length && page.next !== null;
      const cursor = atEnd
        ? encodeCursor(namespace, { upstream: page.next, offset: 0 })
        : encodeCursor(namespace, { upstream: position.upstream, offset: index });
      edges.push({ cursor, node });
    });
    const leftInPage = available.length - taken.length;
    if (edges.length >= first) {
      hasNextPage = leftInPage > 0 || page.next !== null;
      break;
    }
    if (page.next === null) break;
    position = { upstream: page.next, offset: Math.max(0, position.offset - page.items.length) };
  }
  return { edges, pageInfo: { hasNextPage, endCursor: edges.at(-1)?.cursor ?? null } };
}

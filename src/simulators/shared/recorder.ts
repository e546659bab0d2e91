// What reached a simulator: every request in arrival order (faulted ones included), so tests can count
// upstream calls by route template, method or path prefix and read what was sent.
import type { IncomingHttpHeaders } from 'node:http';

export interface RecordedRequest {
  method: string;
  path: string;
  /** Name of the route that matched, or undefined when none did (the request got a 404). */
  route: string | undefined;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: string;
  /** Wall-clock time (ms since epoch) at which the request body had been read. */
  at: number;
}

export interface CountFilter {
  method?: string;
  route?: string;
  pathPrefix?: string;
}

export interface RequestRecorder {
  /** Every recorded request, in arrival order; the same array for the recorder's whole life. */
  readonly requests: RecordedRequest[];
  record(request: RecordedRequest): void;
  /** Requests matching every field `filter` sets (method case-insensitive). */
  count(filter?: CountFilter): number;
  /** Empties `requests` in place, so references held by tests see it too. */
  reset(): void;
}

export function createRecorder(): RequestRecorder {
  const requests: RecordedRequest[] = [];
  return {
    requests,
    record(request) {
      requests.push(request);
    },
    count(filter = {}) {
      return requests.filter(
        (r) =>
          (filter.method === undefined || r.method === filter.method.toUpperCase()) &&
          (filter.route === undefined || r.route === filter.route) &&
          (filter.pathPrefix === undefined || r.path.startsWith(filter.pathPrefix)),
      ).length;
    },
    reset() {
      requests.length = 0;
    },
  };
}

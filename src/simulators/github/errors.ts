// GitHub's REST error answers, `{message, documentation_url, status}` (status as a string, as
// api.github.com writes it), and the shape injected fault statuses take on this simulator.
import { STATUS_CODES } from 'node:http';
import type { SimResponse } from '../shared/wire.js';

export const GITHUB_DOCS = {
  rest: 'https://docs.github.com/rest',
  getAuthenticatedUser: 'https://docs.github.com/rest/users/users#get-the-authenticated-user',
  listReposForUser: 'https://docs.github.com/rest/repos/repos#list-repositories-for-the-authenticated-user',
  rateLimits: 'https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api',
  secondaryRateLimits:
    'https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits',
  apiVersions: 'https://docs.github.com/rest/about-the-rest-api/api-versions',
  mediaTypes: 'https://docs.github.com/rest/using-the-rest-api/getting-started-with-the-rest-api#media-types',
  deleteGrant: 'https://docs.github.com/rest/apps/oauth-applications#delete-an-app-authorization',
  deleteToken: 'https://docs.github.com/rest/apps/oauth-applications#delete-an-app-token',
} as const;

/** Headers every JSON answer of api.github.com carries. */
export const JSON_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'application/json; charset=utf-8',
  'x-github-media-type': 'github.v3; format=json',
};

/** The body GitHub sends with an error status. */
export interface GitHubErrorBody {
  message: string;
  documentation_url: string;
  status: string;
  errors?: Array<{ resource: string; field: string; code: string }>;
}

export function githubErrorBody(
  status: number,
  message: string,
  documentationUrl: string = GITHUB_DOCS.rest,
): GitHubErrorBody {
  return { message, documentation_url: documentationUrl, status: String(status) };
}

/** A complete error answer; `headers` add to (and override) the JSON headers. */
export function githubError(
  status: number,
  message: string,
  documentationUrl: string = GITHUB_DOCS.rest,
  headers: Record<string, string> = {},
): SimResponse {
  return {
    status,
    headers: { ...JSON_HEADERS, ...headers },
    body: JSON.stringify(githubErrorBody(status, message, documentationUrl)),
  };
}

/** GitHub's 401 for a token it does not know, that expired or was revoked. */
export function badCredentials(): SimResponse {
  return githubError(401, 'Bad credentials');
}

/** Seconds a secondary rate limit asks clients to wait (GitHub's docs: at least a minute). */
export const SECONDARY_RATE_LIMIT_RETRY_AFTER_SECONDS = 60;

/**
 * The body and headers of an injected fault status. 403 and 429 are GitHub's secondary rate limit
 * (with `retry-after`), the fault a client of GitHub most needs to survive; other statuses get
 * GitHub's generic error body with the status text as message.
 */
export function githubFaultError(status: number): { body: unknown; headers: Record<string, string> } {
  if (status === 403 || status === 429) {
    return {
      body: JSON.stringify(
        githubErrorBody(
          status,
          'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.',
          GITHUB_DOCS.secondaryRateLimits,
        ),
      ),
      headers: { ...JSON_HEADERS, 'retry-after': String(SECONDARY_RATE_LIMIT_RETRY_AFTER_SECONDS) },
    };
  }
  const message = status === 401 ? 'Bad credentials' : (STATUS_CODES[status] ?? `Status ${status}`);
  return { body: JSON.stringify(githubErrorBody(status, message)), headers: { ...JSON_HEADERS } };
}

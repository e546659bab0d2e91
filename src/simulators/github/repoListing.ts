// `GET /user/repos` over one user's repositories: the documented filters (visibility, affiliation,
// type, since, before), sort and direction, `per_page`/`page` pages and the `Link` header GitHub writes.
import type { SimResponse } from '../shared/wire.js';
import { GITHUB_DOCS, JSON_HEADERS } from './errors.js';
import type { GitHubRepoRecord } from './seed.js';

export const DEFAULT_PER_PAGE = 30;
export const MAX_PER_PAGE = 100;

export interface RepoPage {
  repos: GitHubRepoRecord[];
  /** The `Link` header, or undefined when everything fits on one page. */
  link: string | undefined;
}

/**
 * One page of `owned` as `query` asks for it, or GitHub's 422 for a parameter it refuses.
 * @param seesPrivate whether the token may see private repositories (the `repo` scope)
 * @param selfUrl the request's URL without query, the base of the `Link` URLs
 */
export function listRepositories(
  owned: readonly GitHubRepoRecord[],
  query: URLSearchParams,
  seesPrivate: boolean,
  selfUrl: string,
): RepoPage | SimResponse {
  const invalid = (field: string) => validationFailed(field);
  const type = query.get('type');
  // Documented: `type` with `visibility` or `affiliation` is a 422.
  if (type !== null && (query.has('visibility') || query.has('affiliation'))) return invalid('type');
  if (type !== null && !['all', 'owner', 'public', 'private', 'member'].includes(type))
    return invalid('type');
  const visibility = query.get('visibility') ?? 'all';
  if (!['all', 'public', 'private'].includes(visibility)) return invalid('visibility');
  const affiliation = (query.get('affiliation') ?? 'owner,collaborator,organization_member')
    .split(',')
    .map((a) => a.trim());
  if (!affiliation.every((a) => ['owner', 'collaborator', 'organization_member'].includes(a))) {
    return invalid('affiliation');
  }
  const sort = query.get('sort') ?? 'full_name';
  if (!['created', 'updated', 'pushed', 'full_name'].includes(sort)) return invalid('sort');
  const direction = query.get('direction') ?? (sort === 'full_name' ? 'asc' : 'desc');
  if (direction !== 'asc' && direction !== 'desc') return invalid('direction');
  const since = parseTime(query.get('since'));
  if (since === null) return invalid('since');
  const before = parseTime(query.get('before'));
  if (before === null) return invalid('before');

  // The simulated users own every repository they can see: collaborator and member add nothing.
  const ownerIncluded = affiliation.includes('owner') && type !== 'member';
  const wanted = type === 'public' || type === 'private' ? type : visibility;
  const repos = (ownerIncluded ? owned : []).filter(
    (r) =>
      (seesPrivate || !r.private) &&
      (wanted === 'all' || (wanted === 'private') === r.private) &&
      (since === undefined || r.updatedAt >= since) &&
      (before === undefined || r.updatedAt < before),
  );
  const key = (r: GitHubRepoRecord): number | string => {
    if (sort === 'created') return r.createdAt;
    if (sort === 'updated') return r.updatedAt;
    if (sort === 'pushed') return r.pushedAt ?? 0;
    return `${r.ownerLogin}/${r.name}`.toLowerCase();
  };
  const sign = direction === 'asc' ? 1 : -1;
  repos.sort((a, b) => {
    const [ka, kb] = [key(a), key(b)];
    return (ka < kb ? -1 : ka > kb ? 1 : a.id - b.id) * sign;
  });

  const perPage = clampPerPage(query.get('per_page'));
  const page = parsePage(query.get('page'));
  const lastPage = Math.max(1, Math.ceil(repos.length / perPage));
  return {
    repos: repos.slice((page - 1) * perPage, page * perPage),
    link: linkHeader(selfUrl, query, page, lastPage),
  };
}

function validationFailed(field: string): SimResponse {
  return {
    status: 422,
    headers: { ...JSON_HEADERS },
    body: JSON.stringify({
      message: 'Validation Failed',
      errors: [{ resource: 'Repository', field, code: 'invalid' }],
      documentation_url: GITHUB_DOCS.listReposForUser,
      status: '422',
    }),
  };
}

/** `per_page`: GitHub reads what it can, defaults to 30 and caps at 100. */
function clampPerPage(raw: string | null): number {
  const n = raw !== null && /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  return n >= 1 ? Math.min(n, MAX_PER_PAGE) : DEFAULT_PER_PAGE;
}

/** `page`: 1-based; anything unreadable is page 1; capped at 1e9 so offsets stay exact integers. */
function parsePage(raw: string | null): number {
  const n = raw !== null && /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  return n >= 1 ? Math.min(n, 1e9) : 1;
}

/** An ISO 8601 time in ms; undefined when absent, null when unreadable (or longer than any timestamp). */
function parseTime(raw: string | null): number | undefined | null {
  if (raw === null) return undefined;
  const ms = Date.parse(raw);
  return raw.length <= 40 && Number.isFinite(ms) ? ms : null;
}

/**
 * GitHub's `Link` header: `prev` and `first` from page 2 on, `next` and `last` before the last page,
 * in that order, each the request's own URL with `page` replaced; undefined when there is one page.
 */
export function linkHeader(
  selfUrl: string,
  query: URLSearchParams,
  page: number,
  lastPage: number,
): string | undefined {
  const to = (n: number) => {
    const params = new URLSearchParams(query);
    params.set('page', String(n));
    return `${selfUrl}?${params.toString()}`;
  };
  const links: string[] = [];
  if (page > 1) links.push(`<${to(page - 1)}>; rel="prev"`);
  if (page < lastPage) links.push(`<${to(page + 1)}>; rel="next"`, `<${to(lastPage)}>; rel="last"`);
  if (page > 1) links.push(`<${to(1)}>; rel="first"`);
  return links.length === 0 ? undefined : links.join(', ');
}

// GitHub shapes -> internal code-hosting types, and the one thing read from a `Link` header: the next
// page's number. Resolvers never see GitHub field names or URLs from GitHub's headers.
import type { CodeHostAccount, Repository } from '../../models/codeHosting.js';
import type { GitHubRepository, GitHubUser } from './types.js';

export function toAccount(user: GitHubUser, userId: string): CodeHostAccount {
  return {
    userId,
    login: user.login,
    name: user.name ?? null,
    avatarUrl: user.avatar_url,
    profileUrl: user.html_url,
  };
}

export function toRepository(repo: GitHubRepository): Repository {
  const updatedAt = new Date(repo.updated_at);
  return {
    id: String(repo.id),
    name: repo.name,
    fullName: repo.full_name,
    description: repo.description,
    stars: repo.stargazers_count,
    language: repo.language,
    updatedAt: Number.isNaN(updatedAt.getTime()) ? new Date(0) : updatedAt,
    url: repo.html_url,
    isPrivate: repo.private,
  };
}

/** Longest Link header read; GitHub's are a few hundred characters. */
const MAX_LINK_LENGTH = 8 * 1024;
/** Highest page number accepted (a million pages of 100 is more than any account has). */
export const MAX_PAGE = 1_000_000;

/**
 * The `page` of the `rel="next"` link of a `Link` header (RFC 8288), or null on the last page. Only
 * the page number is kept, and only from a link to `expectedPath`: the next request is rebuilt by
 * the client, never sent to a URL a response named.
 */
export function nextPageFrom(link: string | string[] | undefined, expectedPath: string): string | null {
  const text = Array.isArray(link) ? link.join(', ') : link;
  if (text === undefined || text.length > MAX_LINK_LENGTH) return null;
  for (const match of text.matchAll(/<([^>]*)>((?:\s*;\s*[a-zA-Z*]+\s*=\s*(?:"[^"]*"|[^;,\s]+))*)/g)) {
    const [, target = '', params = ''] = match;
    const rel = /;\s*rel\s*=\s*(?:"([^"]*)"|([^;,\s]+))/i.exec(params);
    const rels = (rel?.[1] ?? rel?.[2] ?? '').toLowerCase().split(/\s+/);
    if (!rels.includes('next')) continue;
    let url: URL;
    try {
      url = new URL(target, 'https://link.invalid');
    } catch {
      return null;
    }
    if (!url.pathname.endsWith(expectedPath)) return null;
    const page = url.searchParams.get('page');
    return page !== null && /^\d{1,7}$/.test(page) && Number(page) >= 2 && Number(page) <= MAX_PAGE
      ? String(Number(page))
      : null;
  }
  return null;
}

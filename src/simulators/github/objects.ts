// GitHub's JSON shapes built from the simulator's records: the user (private and public views, and the
// simple-user embedded elsewhere) and the repository (REST, webhook and push-event variants), with
// every member the published schemas (@octokit/openapi, api.github.com) list as required.
import type { GitHubRepoRecord, GitHubUserRecord } from './seed.js';

/** Where the simulated github.com and api.github.com live; both are the simulator's own base URL by default. */
export interface GitHubUrls {
  /** Base of REST URLs (`url`, `repos_url`, ...), e.g. `http://127.0.0.1:41234`. */
  api: string;
  /** Base of browser URLs (`html_url`, avatars, clone URLs). */
  web: string;
}

/** GitHub writes timestamps as ISO 8601 in UTC without fractions: `2011-01-26T19:01:12Z`. */
export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** GitHub's legacy global node id: base64 of `<type length>:<Type><id>`, e.g. `MDQ6VXNlcjE=` for user 1. */
export function legacyNodeId(type: 'User' | 'Repository' | 'License', id: number | string): string {
  const raw = `${type.length.toString().padStart(2, '0')}:${type}${id}`;
  return Buffer.from(raw, 'utf8').toString('base64');
}

const LICENSE_NAMES: Readonly<Record<string, string>> = {
  MIT: 'MIT License',
  'Apache-2.0': 'Apache License 2.0',
  'BSD-3-Clause': 'BSD 3-Clause "New" or "Revised" License',
  'GPL-3.0': 'GNU General Public License v3.0',
};

function userUrls(user: GitHubUserRecord, urls: GitHubUrls) {
  const api = `${urls.api}/users/${user.login}`;
  return {
    avatar_url: `${urls.web}/avatars/u/${user.id}?v=4`,
    gravatar_id: '',
    url: api,
    html_url: `${urls.web}/${user.login}`,
    followers_url: `${api}/followers`,
    following_url: `${api}/following{/other_user}`,
    gists_url: `${api}/gists{/gist_id}`,
    starred_url: `${api}/starred{/owner}{/repo}`,
    subscriptions_url: `${api}/subscriptions`,
    organizations_url: `${api}/orgs`,
    repos_url: `${api}/repos`,
    events_url: `${api}/events{/privacy}`,
    received_events_url: `${api}/received_events`,
  };
}

/** `simple-user`: the account as embedded in repositories (`owner`) and webhooks (`sender`). */
export function toSimpleUser(user: GitHubUserRecord, urls: GitHubUrls) {
  return {
    login: user.login,
    id: user.id,
    node_id: legacyNodeId('User', user.id),
    ...userUrls(user, urls),
    type: 'User',
    user_view_type: 'public',
    site_admin: false,
  };
}

/** What the account owns, for the counters of `GET /user`. */
export interface OwnedRepoCounts {
  publicRepos: number;
  privateRepos: number;
  diskUsageKb: number;
}

/** `public-user`: `GET /user` for a token without the `user` or `read:user` scope (no private members). */
export function toPublicUser(user: GitHubUserRecord, counts: OwnedRepoCounts, urls: GitHubUrls) {
  return {
    login: user.login,
    id: user.id,
    user_view_type: 'public',
    node_id: legacyNodeId('User', user.id),
    ...userUrls(user, urls),
    type: 'User',
    site_admin: false,
    name: user.name,
    company: user.company,
    blog: user.blog,
    location: user.location,
    email: user.email,
    hireable: user.hireable,
    bio: user.bio,
    twitter_username: user.twitterUsername,
    public_repos: counts.publicRepos,
    public_gists: user.publicGists,
    followers: user.followers,
    following: user.following,
    created_at: isoSeconds(user.createdAt),
    updated_at: isoSeconds(user.updatedAt),
  };
}

/** `private-user`: `GET /user` for a token with `user` or `read:user`, with the private counters and plan. */
export function toPrivateUser(user: GitHubUserRecord, counts: OwnedRepoCounts, urls: GitHubUrls) {
  return {
    ...toPublicUser(user, counts, urls),
    user_view_type: 'private',
    notification_email: user.email,
    private_gists: user.privateGists,
    total_private_repos: counts.privateRepos,
    owned_private_repos: counts.privateRepos,
    disk_usage: counts.diskUsageKb,
    collaborators: 0,
    two_factor_authentication: true,
    plan: { name: 'free', space: 976_562_499, collaborators: 0, private_repos: 10_000 },
  };
}

function licenseOf(spdx: string | null, urls: GitHubUrls) {
  if (spdx === null) return null;
  const key = spdx.toLowerCase();
  return {
    key,
    name: LICENSE_NAMES[spdx] ?? spdx,
    spdx_id: spdx,
    url: `${urls.api}/licenses/${key}`,
    node_id: legacyNodeId('License', key),
  };
}

/** Members every repository shape shares (REST, webhook, push); timestamps and owner differ per shape. */
function repoCore(repo: GitHubRepoRecord, urls: GitHubUrls) {
  const fullName = `${repo.ownerLogin}/${repo.name}`;
  const api = `${urls.api}/repos/${fullName}`;
  const html = `${urls.web}/${fullName}`;
  const host = new URL(urls.web).host;
  return {
    id: repo.id,
    node_id: legacyNodeId('Repository', repo.id),
    name: repo.name,
    full_name: fullName,
    private: repo.private,
    html_url: html,
    description: repo.description,
    fork: repo.fork,
    url: api,
    forks_url: `${api}/forks`,
    keys_url: `${api}/keys{/key_id}`,
    collaborators_url: `${api}/collaborators{/collaborator}`,
    teams_url: `${api}/teams`,
    hooks_url: `${api}/hooks`,
    issue_events_url: `${api}/issues/events{/number}`,
    events_url: `${api}/events`,
    assignees_url: `${api}/assignees{/user}`,
    branches_url: `${api}/branches{/branch}`,
    tags_url: `${api}/tags`,
    blobs_url: `${api}/git/blobs{/sha}`,
    git_tags_url: `${api}/git/tags{/sha}`,
    git_refs_url: `${api}/git/refs{/sha}`,
    trees_url: `${api}/git/trees{/sha}`,
    statuses_url: `${api}/statuses/{sha}`,
    languages_url: `${api}/languages`,
    stargazers_url: `${api}/stargazers`,
    contributors_url: `${api}/contributors`,
    subscribers_url: `${api}/subscribers`,
    subscription_url: `${api}/subscription`,
    commits_url: `${api}/commits{/sha}`,
    git_commits_url: `${api}/git/commits{/sha}`,
    comments_url: `${api}/comments{/number}`,
    issue_comment_url: `${api}/issues/comments{/number}`,
    contents_url: `${api}/contents/{+path}`,
    compare_url: `${api}/compare/{base}...{head}`,
    merges_url: `${api}/merges`,
    archive_url: `${api}/{archive_format}{/ref}`,
    downloads_url: `${api}/downloads`,
    issues_url: `${api}/issues{/number}`,
    pulls_url: `${api}/pulls{/number}`,
    milestones_url: `${api}/milestones{/number}`,
    notifications_url: `${api}/notifications{?since,all,participating}`,
    labels_url: `${api}/labels{/name}`,
    releases_url: `${api}/releases{/id}`,
    deployments_url: `${api}/deployments`,
    git_url: `git://${host}/${fullName}.git`,
    ssh_url: `git@${host}:${fullName}.git`,
    clone_url: `${html}.git`,
    svn_url: html,
    homepage: repo.homepage,
    size: repo.size,
    stargazers_count: repo.stargazers,
    watchers_count: repo.stargazers,
    language: repo.language,
    has_issues: true,
    has_projects: true,
    has_downloads: true,
    has_wiki: true,
    has_pages: false,
    has_discussions: false,
    forks_count: repo.forks,
    mirror_url: null,
    archived: repo.archived,
    disabled: false,
    open_issues_count: repo.openIssues,
    license: licenseOf(repo.license, urls),
    allow_forking: true,
    is_template: false,
    web_commit_signoff_required: false,
    topics: [...repo.topics],
    visibility: repo.private ? 'private' : 'public',
    forks: repo.forks,
    open_issues: repo.openIssues,
    watchers: repo.stargazers,
    default_branch: repo.defaultBranch,
  };
}

const OWNER_PERMISSIONS = { admin: true, maintain: true, push: true, triage: true, pull: true } as const;

/** `repository`: an element of `GET /user/repos`, as the owner sees it. */
export function toRepository(repo: GitHubRepoRecord, owner: GitHubUserRecord, urls: GitHubUrls) {
  return {
    ...repoCore(repo, urls),
    owner: toSimpleUser(owner, urls),
    permissions: { ...OWNER_PERMISSIONS },
    pushed_at: repo.pushedAt === null ? null : isoSeconds(repo.pushedAt),
    created_at: isoSeconds(repo.createdAt),
    updated_at: isoSeconds(repo.updatedAt),
  };
}

/** `repository-webhooks`: the repository in `repository` and `star` event payloads. */
export function toWebhookRepository(repo: GitHubRepoRecord, owner: GitHubUserRecord, urls: GitHubUrls) {
  return {
    ...toRepository(repo, owner, urls),
    custom_properties: {},
  };
}

/**
 * The repository of a `push` payload: GitHub writes `created_at` and `pushed_at` there as Unix seconds,
 * adds `stargazers` and `master_branch`, and its owner carries `name` and `email`.
 */
export function toPushRepository(repo: GitHubRepoRecord, owner: GitHubUserRecord, urls: GitHubUrls) {
  return {
    ...repoCore(repo, urls),
    owner: { name: owner.login, email: owner.email, ...toSimpleUser(owner, urls) },
    created_at: Math.floor(repo.createdAt / 1000),
    updated_at: isoSeconds(repo.updatedAt),
    pushed_at: repo.pushedAt === null ? null : Math.floor(repo.pushedAt / 1000),
    stargazers: repo.stargazers,
    master_branch: repo.defaultBranch,
    custom_properties: {},
  };
}

/** A small deterministic SVG avatar (initial on a colour from the id), served at `/avatars/u/:id`. */
export function avatarSvg(user: GitHubUserRecord): string {
  const hue = (user.id * 47) % 360;
  const initial = (user.login[0] ?? '?').toUpperCase();
  return (
    '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="120" viewBox="0 0 120 120">' +
    `<rect width="120" height="120" fill="hsl(${hue} 55% 45%)"/>` +
    `<text x="60" y="78" font-family="sans-serif" font-size="56" text-anchor="middle" fill="#fff">${initial}</text>` +
    '</svg>'
  );
}

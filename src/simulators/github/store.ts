// The simulated accounts and the repositories they own: seeded at creation, grown by the test-side
// controls, read by the REST routes and the webhook payloads.
import type { OwnedRepoCounts } from './objects.js';
import type { GitHubRepoRecord, GitHubSeedAccount, GitHubUserRecord } from './seed.js';
import { checkLogin, checkRepoName, seedGitHub } from './seed.js';

/** What a test may choose for a new repository; everything else starts as GitHub starts it. */
export interface NewRepository {
  name: string;
  description?: string | null;
  private?: boolean;
  language?: string | null;
  topics?: string[];
}

export interface GitHubStore {
  /** Live accounts by login, in seed order. */
  readonly accounts: Map<string, GitHubUserRecord>;
  /** The account, or a TypeError naming the login. */
  account(login: string): GitHubUserRecord;
  accountById(id: number): GitHubUserRecord | undefined;
  /** The live list of `login`'s repositories, in creation order (empty for an unknown login). */
  owned(login: string): readonly GitHubRepoRecord[];
  /** The repository `owner/name`, or a TypeError. */
  repository(fullName: string): GitHubRepoRecord;
  counts(login: string): OwnedRepoCounts;
  addAccount(account: { login: string; name?: string }, at: number): GitHubUserRecord;
  addRepository(login: string, spec: NewRepository, at: number): GitHubRepoRecord;
}

export function createGitHubStore(seedAccounts: readonly GitHubSeedAccount[], prngSeed: number): GitHubStore {
  const seeded = seedGitHub(seedAccounts, prngSeed);
  const accounts = new Map(seeded.users.map((u) => [u.login, u]));
  const repos = new Map<string, GitHubRepoRecord[]>(seeded.users.map((u) => [u.login, []]));
  for (const repo of seeded.repos) repos.get(repo.ownerLogin)?.push(repo);
  let nextUserId = seeded.nextUserId;
  let nextRepoId = seeded.nextRepoId;

  const account = (login: string): GitHubUserRecord => {
    const found = accounts.get(login);
    if (found === undefined) throw new TypeError(`no GitHub account with login ${JSON.stringify(login)}`);
    return found;
  };

  return {
    accounts,
    account,
    accountById: (id) => [...accounts.values()].find((u) => u.id === id),
    owned: (login) => repos.get(login) ?? [],
    repository(fullName) {
      const [ownerLogin = '', name] = fullName.split('/');
      const repo = (repos.get(ownerLogin) ?? []).find((r) => r.name === name);
      if (repo === undefined) throw new TypeError(`no repository ${JSON.stringify(fullName)}`);
      return repo;
    },
    counts(login) {
      const owned = repos.get(login) ?? [];
      const privateRepos = owned.filter((r) => r.private).length;
      return {
        publicRepos: owned.length - privateRepos,
        privateRepos,
        diskUsageKb: owned.reduce((sum, r) => sum + r.size, 0),
      };
    },
    addAccount(spec, at) {
      const login = checkLogin(spec.login);
      if ([...accounts.keys()].some((l) => l.toLowerCase() === login.toLowerCase())) {
        throw new TypeError(`a GitHub account named ${login} exists already`);
      }
      const user: GitHubUserRecord = {
        id: nextUserId++,
        login,
        name: spec.name ?? null,
        email: null,
        company: null,
        blog: '',
        location: null,
        bio: null,
        twitterUsername: null,
        hireable: null,
        followers: 0,
        following: 0,
        publicGists: 0,
        privateGists: 0,
        createdAt: at,
        updatedAt: at,
      };
      accounts.set(login, user);
      repos.set(login, []);
      return user;
    },
    addRepository(login, spec, at) {
      account(login);
      const name = checkRepoName(spec.name);
      const owned = repos.get(login) ?? [];
      if (owned.some((r) => r.name.toLowerCase() === name.toLowerCase())) {
        throw new TypeError(`${login} already has a repository named ${name}`);
      }
      const repo: GitHubRepoRecord = {
        id: nextRepoId++,
        ownerLogin: login,
        name,
        description: spec.description ?? null,
        homepage: null,
        private: spec.private ?? false,
        fork: false,
        archived: false,
        language: spec.language ?? null,
        topics: [...(spec.topics ?? [])],
        license: null,
        defaultBranch: 'main',
        stargazers: 0,
        forks: 0,
        openIssues: 0,
        size: 0,
        createdAt: at,
        updatedAt: at,
        pushedAt: at,
      };
      owned.push(repo);
      repos.set(login, owned);
      return repo;
    },
  };
}

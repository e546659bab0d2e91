// Deterministic GitHub accounts and repositories for the GitHub simulator: the same seed list always
// gives the same records (a seeded PRNG, never Math.random), so tests can rely on names and counts.
import { createPrng } from '../users/seed.js';

/** A GitHub account as the simulator stores it; objects.ts turns it into GitHub's JSON shapes. */
export interface GitHubUserRecord {
  id: number;
  login: string;
  name: string | null;
  email: string | null;
  company: string | null;
  blog: string;
  location: string | null;
  bio: string | null;
  twitterUsername: string | null;
  hireable: boolean | null;
  followers: number;
  following: number;
  publicGists: number;
  privateGists: number;
  /** Epoch ms. */
  createdAt: number;
  /** Epoch ms. */
  updatedAt: number;
}

/** A repository as the simulator stores it (owner by login). */
export interface GitHubRepoRecord {
  id: number;
  ownerLogin: string;
  name: string;
  description: string | null;
  homepage: string | null;
  private: boolean;
  fork: boolean;
  archived: boolean;
  language: string | null;
  topics: string[];
  /** SPDX id of the licence, or null for none. */
  license: string | null;
  defaultBranch: string;
  stargazers: number;
  forks: number;
  openIssues: number;
  /** Size in KB, as GitHub reports it. */
  size: number;
  /** Epoch ms. */
  createdAt: number;
  /** Epoch ms. */
  updatedAt: number;
  /** Epoch ms, or null for a repository nobody pushed to. */
  pushedAt: number | null;
}

/** One seeded account: its login and how many repositories it owns. */
export interface GitHubSeedAccount {
  /** GitHub login: 1..39 characters, letters, digits and single hyphens, not starting or ending with one. */
  login: string;
  /** Display name. Default: derived from the login. */
  name?: string;
  /** Number of repositories the account owns. Default: 5. */
  repositories?: number;
}

/** The demo accounts: one with 250 repositories (three pages of 100), one with a few, one with none. */
export const DEFAULT_GITHUB_SEED: readonly GitHubSeedAccount[] = [
  { login: 'octo-ada', name: 'Ada Octo', repositories: 250 },
  { login: 'octo-ben', name: 'Ben Octo', repositories: 7 },
  { login: 'octo-cai', name: 'Cai Octo', repositories: 0 },
];

/** Default PRNG seed of the GitHub demo data. */
export const DEFAULT_GITHUB_PRNG_SEED = 0x6177_1b5e;

const FIRST_USER_ID = 9_100_001;
const FIRST_REPO_ID = 700_000_001;
/** 2015-01-01T00:00:00Z: seeded accounts and repositories are created after this. */
const EPOCH_MS = Date.UTC(2015, 0, 1);
const DAY_MS = 24 * 60 * 60 * 1000;
/** Seeded `updated_at`/`pushed_at` values stay before 2025-01-01, so they never lie in the future. */
const LATEST_MS = Date.UTC(2025, 0, 1);

const LOGIN_PATTERN = /^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$/;

const ADJECTIVES = (
  'amber brisk calm daring eager fuzzy gentle hollow icy jolly keen lucid mellow nimble ' +
  'odd plucky quiet rapid silent tidy upbeat vivid witty young zesty'
).split(' ');
const NOUNS = (
  'anchor beacon comet delta ember falcon garden harbor island jetty kernel lantern meadow ' +
  'nebula orbit prism quartz river signal tunnel umbra vertex willow yonder zephyr'
).split(' ');
const LANGUAGES = [
  'TypeScript',
  'JavaScript',
  'Go',
  'Rust',
  'Python',
  'Java',
  'C',
  'Ruby',
  'Shell',
  null,
] as const;
const LICENSES = ['MIT', 'Apache-2.0', 'BSD-3-Clause', 'GPL-3.0', null] as const;
const TOPICS = 'api cli graphql http library demo tooling testing webhooks oauth'.split(' ');
const DESCRIPTIONS = [
  'A small experiment',
  'Tools for everyday automation',
  'Notes and snippets',
  'A demo application',
  'Bindings and helpers',
  null,
] as const;

function pick<T>(random: () => number, items: readonly T[]): T {
  const item = items[Math.floor(random() * items.length)];
  if (item === undefined) throw new Error('pick() from an empty list');
  return item;
}

/** Throws unless `login` is a valid GitHub login (the simulator keys accounts by it). */
export function checkLogin(login: string): string {
  if (typeof login !== 'string' || !LOGIN_PATTERN.test(login)) {
    throw new TypeError(
      `a GitHub login must be 1..39 letters, digits or single inner hyphens, but got: ${JSON.stringify(login)}`,
    );
  }
  return login;
}

/** Throws unless `name` is a valid repository name (GitHub: letters, digits, `.`, `-`, `_`, at most 100). */
export function checkRepoName(name: string): string {
  if (typeof name !== 'string' || !/^[A-Za-z0-9._-]{1,100}$/.test(name) || name === '.' || name === '..') {
    throw new TypeError(
      `a repository name must be 1..100 of letters, digits, '.', '-' or '_', but got: ${JSON.stringify(name)}`,
    );
  }
  return name;
}

export interface GitHubSeed {
  users: GitHubUserRecord[];
  repos: GitHubRepoRecord[];
  /** The next free ids, for accounts and repositories added later. */
  nextUserId: number;
  nextRepoId: number;
}

/**
 * Builds the accounts and their repositories; deterministic for a given list and seed. Repository
 * names are unique per owner, about one in ten is private, and timestamps rise with the index.
 * @param accounts the accounts to create. Default DEFAULT_GITHUB_SEED.
 * @param seed PRNG seed. Default DEFAULT_GITHUB_PRNG_SEED.
 */
export function seedGitHub(
  accounts: readonly GitHubSeedAccount[] = DEFAULT_GITHUB_SEED,
  seed = DEFAULT_GITHUB_PRNG_SEED,
): GitHubSeed {
  const random = createPrng(seed);
  const users: GitHubUserRecord[] = [];
  const repos: GitHubRepoRecord[] = [];
  const logins = new Set<string>();
  let nextUserId = FIRST_USER_ID;
  let nextRepoId = FIRST_REPO_ID;

  for (const account of accounts) {
    const login = checkLogin(account.login);
    if (logins.has(login.toLowerCase())) {
      throw new TypeError(`seeded GitHub logins must be unique (case-insensitively), but got ${login} twice`);
    }
    logins.add(login.toLowerCase());
    const count = account.repositories ?? 5;
    if (!Number.isInteger(count) || count < 0 || count > 10_000) {
      throw new TypeError(
        `repositories of ${login} must be an integer 0..10000, but got: ${String(account.repositories)}`,
      );
    }
    const createdAt = EPOCH_MS + Math.floor(random() * 400) * DAY_MS;
    users.push({
      id: nextUserId++,
      login,
      name: account.name ?? login.replace(/-/g, ' '),
      email: `${login.toLowerCase()}@users.noreply.example.com`,
      company: random() < 0.5 ? '@junction-demo' : null,
      blog: '',
      location: pick(random, ['Lisbon', 'Nairobi', 'Osaka', 'Toronto', null] as const),
      bio: random() < 0.5 ? 'Simulated GitHub account' : null,
      twitterUsername: null,
      hireable: null,
      followers: Math.floor(random() * 500),
      following: Math.floor(random() * 100),
      publicGists: Math.floor(random() * 10),
      privateGists: Math.floor(random() * 3),
      createdAt,
      updatedAt: createdAt + 30 * DAY_MS,
    });

    const names = new Set<string>();
    for (let i = 0; i < count; i++) {
      let name = `${pick(random, ADJECTIVES)}-${pick(random, NOUNS)}`;
      for (let suffix = 2; names.has(name); suffix++) name = `${name.replace(/-\d+$/, '')}-${suffix}`;
      names.add(name);
      const repoCreated = createdAt + (i + 1) * DAY_MS + Math.floor(random() * DAY_MS);
      const repoUpdated = Math.min(LATEST_MS, repoCreated + Math.floor(random() * 600) * DAY_MS);
      const topicCount = Math.floor(random() * 3);
      const topics = [...new Set(Array.from({ length: topicCount }, () => pick(random, TOPICS)))].sort();
      repos.push({
        id: nextRepoId++,
        ownerLogin: login,
        name,
        description: pick(random, DESCRIPTIONS),
        homepage: null,
        private: random() < 0.1,
        fork: random() < 0.1,
        archived: random() < 0.05,
        language: pick(random, LANGUAGES),
        topics,
        license: pick(random, LICENSES),
        defaultBranch: 'main',
        stargazers: Math.floor(random() ** 3 * 2000),
        forks: Math.floor(random() ** 3 * 200),
        openIssues: Math.floor(random() * 20),
        size: Math.floor(random() * 5000),
        createdAt: repoCreated,
        updatedAt: repoUpdated,
        pushedAt: repoUpdated,
      });
    }
  }
  return { users, repos, nextUserId, nextRepoId };
}

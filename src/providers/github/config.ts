// GitHub's configuration: the OAuth app users connect through, where GitHub is, webhook secrets,
// scopes asked for, the per-user rate and cache lifetimes, written once.
import { decimal, integer, list, rotating, secret, text, url } from '../../configSchema.js';
import type { ProviderConfigSpec } from '../module.js';

/** A scope name as GitHub spells them (`repo`, `read:user`, `admin:repo_hook`). */
const SCOPE = /^[a-z][a-z0-9:_-]{0,49}$/;

const remote = {
  clientId: text('GITHUB_CLIENT_ID', {
    pattern: /^[A-Za-z0-9._-]{1,100}$/,
    expected: 'an OAuth app client id (`Ov23li…`, `Iv1.…`)',
    doc: 'Client id of the GitHub OAuth app users connect their accounts through.',
  }),
  clientSecret: rotating(secret('GITHUB_CLIENT_SECRET', { max: 256, doc: 'Its client secret.' }), 'none'),
};

const settings = {
  apiBase: url('GITHUB_API_BASE', {
    default: 'https://api.github.com',
    doc: 'GitHub REST API base URL (GitHub Enterprise Server: `https://HOST/api/v3`).',
  }),
  oauthBase: url('GITHUB_OAUTH_BASE', {
    default: 'https://github.com',
    doc: 'Where the OAuth web flow lives (`/login/oauth/authorize`, `/login/oauth/access_token`).',
  }),
  webhookSecrets: rotating(
    list('GITHUB_WEBHOOK_SECRET', {
      default: [],
      defaultDoc: 'demo: generated; production: required',
      secret: true,
      minItems: 1,
      maxItems: 8,
      expected: 'one or more comma-separated secrets',
      item: (part) => (part.length <= 512 ? part : undefined),
      doc: 'Webhook secret(s) `X-Hub-Signature-256` is checked against, comma-separated while rotating.',
    }),
    'webhook',
  ),
  scopes: list('GITHUB_SCOPES', {
    default: ['read:user', 'repo'],
    maxItems: 20,
    expected: 'comma-separated OAuth scopes (`read:user,repo`)',
    item: (part) => (SCOPE.test(part) ? part : undefined),
    doc: 'Scopes asked for when a user connects (without `repo`, only public repositories are listed).',
  }),
  ratePerSecond: decimal('GITHUB_RATE_LIMIT_PER_SECOND', {
    min: 0.1,
    max: 10_000,
    default: 10, // per user: GitHub allows 5,000 an hour per user and asks for no bursts
    doc: 'Requests per second per connected user, never exceeded; slowed further by GitHub’s `x-ratelimit-*`.',
  }),
  cacheTtlSeconds: integer('GITHUB_CACHE_TTL_SECONDS', {
    min: 1,
    max: 86_400,
    default: 60, // GitHub's own max-age; after it, a revalidation (304) costs no quota
    unit: 's',
    doc: 'Freshness of a user’s cached account and repositories, then revalidated by ETag (invalidated by webhooks).',
  }),
  staleIfErrorSeconds: integer('GITHUB_CACHE_SIE_SECONDS', {
    min: 0,
    max: 86_400,
    default: 300,
    unit: 's',
    doc: 'How long stale GitHub data is served while GitHub fails.',
  }),
};

export const githubConfig: ProviderConfigSpec<typeof remote, typeof settings> = {
  title: 'GitHub',
  remote,
  settings,
  check: ({ mode, settings }, { isProduction }) =>
    isProduction && mode === 'remote' && settings.webhookSecrets.current().length === 0
      ? ['GITHUB_WEBHOOK_SECRET: required in production']
      : [],
};

// The GitHub module's pure parts: X-Hub-Signature-256 verification (with @octokit/webhooks-methods,
// GitHub's own library, as the witness that signs and verifies), the Link header reader, and the
// mapping of GitHub's shapes.
import { sign, verify } from '@octokit/webhooks-methods';
import { describe, expect, it } from 'vitest';
import { nextPageFrom, toRepository } from '../../../src/providers/github/mapping.js';
import { verifyGitHubSignature } from '../../../src/providers/github/webhookSignature.js';
import { isWebhookVerificationError } from '../../../src/providers/webhookKit.js';

const reason = (run: () => void): string | undefined => {
  try {
    run();
    return undefined;
  } catch (error) {
    return isWebhookVerificationError(error) ? error.reason : String(error);
  }
};

describe('verifyGitHubSignature', () => {
  const body = JSON.stringify({ action: 'created', zen: 'Keep it logically awesome.' });

  it('accepts what GitHub’s library signs, with any of several secrets; refuses what it refuses', async () => {
    const header = await sign('new-secret', body);
    expect(await verify('new-secret', body, header)).toBe(true);
    expect(reason(() => verifyGitHubSignature(Buffer.from(body), header, ['old-secret', 'new-secret']))).toBe(
      undefined,
    );
    expect(reason(() => verifyGitHubSignature(Buffer.from(body), header, ['new-secret']))).toBe(undefined);
    expect(reason(() => verifyGitHubSignature(Buffer.from(body), header, ['old-secret']))).toBe(
      'signature_mismatch',
    );
    expect(await verify('old-secret', body, header)).toBe(false);
  });

  it('refuses a changed body, a missing or malformed header, and answers not_configured without secrets', async () => {
    const header = await sign('s', body);
    expect(reason(() => verifyGitHubSignature(Buffer.from(`${body} `), header, ['s']))).toBe(
      'signature_mismatch',
    );
    expect(reason(() => verifyGitHubSignature(Buffer.from(body), undefined, ['s']))).toBe(
      'missing_signature',
    );
    expect(reason(() => verifyGitHubSignature(Buffer.from(body), 'sha1=abc', ['s']))).toBe(
      'malformed_signature',
    );
    expect(reason(() => verifyGitHubSignature(Buffer.from(body), `${header}00`, ['s']))).toBe(
      'malformed_signature',
    );
    expect(reason(() => verifyGitHubSignature(Buffer.from(body), header, []))).toBe('not_configured');
  });
});

describe('nextPageFrom', () => {
  const base = 'https://api.github.com/user/repos?sort=full_name&per_page=100';

  it('reads the page of rel="next" from GitHub’s Link header, null on the last page', () => {
    const middle = `<${base}&page=1>; rel="prev", <${base}&page=3>; rel="next", <${base}&page=3>; rel="last", <${base}&page=1>; rel="first"`;
    expect(nextPageFrom(middle, '/user/repos')).toBe('3');
    expect(
      nextPageFrom(`<${base}&page=2>; rel="prev", <${base}&page=1>; rel="first"`, '/user/repos'),
    ).toBeNull();
    expect(nextPageFrom(undefined, '/user/repos')).toBeNull();
    expect(nextPageFrom([`<${base}&page=2>; rel="next"`], '/user/repos')).toBe('2');
  });

  it('keeps only a sane page number of a link to the expected path', () => {
    expect(nextPageFrom(`<https://evil.example/other?page=2>; rel="next"`, '/user/repos')).toBeNull();
    expect(nextPageFrom(`<${base}&page=0>; rel="next"`, '/user/repos')).toBeNull();
    expect(nextPageFrom(`<${base}&page=99999999>; rel="next"`, '/user/repos')).toBeNull();
    expect(nextPageFrom(`<${base}&page=2%20OR%201>; rel="next"`, '/user/repos')).toBeNull();
    expect(nextPageFrom(`<${base}&page=2>; rel="next"`.repeat(1000), '/user/repos')).toBeNull();
  });
});

describe('toRepository', () => {
  it('maps GitHub’s repository to the internal one, with a safe date for an unreadable updated_at', () => {
    const repo = {
      id: 7,
      name: 'hello',
      full_name: 'octo/hello',
      private: false,
      html_url: 'https://github.com/octo/hello',
      description: null,
      stargazers_count: 3,
      language: 'TypeScript',
      updated_at: '2026-01-02T03:04:05Z',
      owner: { id: 1, login: 'octo' },
    };
    expect(toRepository(repo)).toEqual({
      id: '7',
      name: 'hello',
      fullName: 'octo/hello',
      description: null,
      stars: 3,
      language: 'TypeScript',
      updatedAt: new Date('2026-01-02T03:04:05Z'),
      url: 'https://github.com/octo/hello',
      isPrivate: false,
    });
    expect(toRepository({ ...repo, updated_at: 'yesterday' }).updatedAt).toEqual(new Date(0));
  });
});

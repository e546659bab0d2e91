// Holds the GitHub simulator against what GitHub publishes: responses and webhook payloads validate
// against the api.github.com description in @octokit/openapi (the schemas the operations and webhooks
// of the spec point at, with their `required` lists), @octokit/webhooks-methods verifies the
// simulator's signatures, and @octokit/oauth-methods and @octokit/rest drive it as real clients do.
//
// The subset: GET /user (both views), GET /user/repos, GET /rate_limit, the error bodies of those routes,
// and the push, repository (created), star (created) and github_app_authorization (revoked) payloads.
// The simulator returns every member the schemas require plus common optional ones, not all of GitHub's.

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingHttpHeaders, Server } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  deleteAuthorization,
  exchangeWebFlowCode,
  getWebFlowAuthorizationUrl,
  refreshToken,
} from '@octokit/oauth-methods';
import { Octokit } from '@octokit/rest';
import { sign, verify } from '@octokit/webhooks-methods';
import type { ValidateFunction } from 'ajv';
import { Ajv } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { s256Challenge } from '../../src/simulators/github/oauth.js';
import type { GitHubSimulator } from '../../src/simulators/github/simulator.js';
import { createGitHubSimulator } from '../../src/simulators/github/simulator.js';

type JsonSchema = Record<string, unknown>;
interface MediaContent {
  content: Record<string, { schema: JsonSchema }>;
}
interface Spec {
  paths: Record<string, Record<string, { responses: Record<string, MediaContent | { $ref: string }> }>>;
  'x-webhooks': Record<string, { post: { requestBody: MediaContent } }>;
  components: { schemas: Record<string, JsonSchema>; responses: Record<string, MediaContent> };
}

const spec = JSON.parse(
  readFileSync(
    new URL('../../node_modules/@octokit/openapi/generated/api.github.com.json', import.meta.url),
    'utf8',
  ),
) as Spec;

/**
 * OpenAPI 3.0's `nullable` without a `type` (e.g. `{nullable: true, oneOf: [...]}`) has no JSON Schema
 * equivalent Ajv accepts; rewrite it as `anyOf: [schema, {type: 'null'}]`. Typed `nullable` Ajv reads itself.
 */
function nullableToAnyOf(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(nullableToAnyOf);
  if (typeof node !== 'object' || node === null) return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) out[key] = nullableToAnyOf(value);
  if (out.nullable === true && out.type === undefined) {
    const { nullable: _nullable, ...rest } = out;
    return { anyOf: [rest, { type: 'null' }] };
  }
  return out;
}

const ajv = new Ajv({ strict: false, allErrors: true });
// The formats the chosen schemas use, checked for real (uri-template: any string).
ajv.addFormat('date-time', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/);
ajv.addFormat('uri', (value: string) => {
  try {
    return new URL(value).protocol.length > 1;
  } catch {
    return false;
  }
});
ajv.addFormat('email', /^[^\s@]+@[^\s@]+\.[^\s@]+$/);
ajv.addFormat('uri-template', true);
ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isSafeInteger(n) });
ajv.addSchema(
  nullableToAnyOf({
    $id: 'api.github.com.json',
    components: { schemas: spec.components.schemas },
  }) as JsonSchema,
);

const compiled = new Map<string, ValidateFunction>();
function validatorFor(ref: string): ValidateFunction {
  let validate = compiled.get(ref);
  if (validate === undefined) {
    validate = ajv.compile({ $ref: `api.github.com.json${ref}` });
    compiled.set(ref, validate);
  }
  return validate;
}
/** '' when `value` validates against the schema at `ref` (`#/components/schemas/...`), else Ajv's errors. */
function check(ref: string, value: unknown): string {
  const validate = validatorFor(ref);
  return validate(value) ? '' : ajv.errorsText(validate.errors, { separator: '\n' });
}

function jsonSchemaOf(content: MediaContent | { $ref: string } | undefined): JsonSchema {
  let resolved = content;
  if (resolved !== undefined && '$ref' in resolved) {
    resolved = spec.components.responses[resolved.$ref.replace('#/components/responses/', '')];
  }
  const schema = resolved?.content['application/json']?.schema;
  if (schema === undefined) throw new Error('the spec has no application/json schema there');
  return schema;
}

/** The `$ref` of a documented response: `GET /user/repos` 200 is an array of `#/components/schemas/repository`. */
function responseRef(path: string, status: string): string {
  const schema = jsonSchemaOf(spec.paths[path]?.get?.responses[status]);
  const ref = (schema.items as JsonSchema | undefined)?.$ref ?? schema.$ref;
  if (typeof ref !== 'string') throw new Error(`GET ${path} ${status} is not a $ref schema`);
  return ref;
}

/** `GET /user` 200 is `oneOf` private-user / public-user, chosen by `user_view_type` (the discriminator). */
function userViewRef(view: string): string {
  const schema = jsonSchemaOf(spec.paths['/user']?.get?.responses['200']);
  const mapping = (schema.discriminator as { mapping: Record<string, string> }).mapping;
  const ref = mapping[view];
  if (ref === undefined) throw new Error(`no user view ${view} in the spec`);
  return ref;
}

function webhookRef(name: string): string {
  const ref = spec['x-webhooks'][name]?.post.requestBody.content['application/json']?.schema.$ref;
  if (typeof ref !== 'string') throw new Error(`no webhook ${name} in the spec`);
  return ref;
}

const SECRET = 'contract-webhook-secret';
/** Octokit logs each request (failed ones at error level); the tests assert on failures themselves. */
const quiet = { debug: () => {}, info: () => {}, warn: console.warn, error: () => {} };
function client(auth?: string): Octokit {
  return new Octokit({ baseUrl: base, log: quiet, ...(auth === undefined ? {} : { auth }) });
}
let sim: GitHubSimulator;
let base: string;
let receiver: Server;
const received: Array<{ headers: IncomingHttpHeaders; body: string }> = [];

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const port = (receiver.address() as AddressInfo).port;
  sim = createGitHubSimulator({
    autoApprove: true,
    webhook: { url: `http://127.0.0.1:${port}/webhooks/github`, secret: SECRET },
  });
  base = await sim.start();
});

afterAll(async () => {
  await sim.close();
  await new Promise((resolve) => receiver.close(resolve));
});

function api(path: string, token: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${base}${path}`, {
    headers: {
      accept: 'application/vnd.github+json',
      'x-github-api-version': '2022-11-28',
      authorization: `Bearer ${token}`,
      ...headers,
    },
  });
}

describe('api.github.com description (@octokit/openapi)', () => {
  it('the validator itself rejects what GitHub would not send', async () => {
    const token = sim.issueUserToken('octo-ada', []).access_token;
    const user = (await (await api('/user', token)).json()) as Record<string, unknown>;
    const ref = userViewRef('public');
    expect(check(ref, user)).toBe('');
    const { node_id: _dropped, ...missing } = user;
    expect(check(ref, missing)).toMatch(/node_id/);
    // public-user has additionalProperties: false: a private member in the public view fails.
    expect(check(ref, { ...user, two_factor_authentication: true })).toMatch(/additional/);
    expect(check(ref, { ...user, created_at: '26 Jan 2011' })).toMatch(/created_at/);
  });

  it('GET /user validates as private-user with read:user and as public-user without it', async () => {
    for (const [scopes, view] of [
      [['read:user'], 'private'],
      [[], 'public'],
    ] as const) {
      const res = await api('/user', sim.issueUserToken('octo-ben', scopes).access_token);
      expect(res.status).toBe(200);
      const user = (await res.json()) as { user_view_type: string };
      expect(user.user_view_type).toBe(view);
      expect(check(userViewRef(view), user)).toBe('');
    }
  });

  it('every repository of every GET /user/repos page validates, and Link has the documented form', async () => {
    const token = sim.issueUserToken('octo-ada', ['read:user', 'repo']).access_token;
    const ref = responseRef('/user/repos', '200');
    expect(ref).toBe('#/components/schemas/repository');
    let url: string | undefined = `${base}/user/repos?per_page=100`;
    let count = 0;
    while (url !== undefined) {
      const res: Response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
      const repos = (await res.json()) as unknown[];
      for (const repo of repos) expect(check(ref, repo)).toBe('');
      count += repos.length;
      const link: string = res.headers.get('link') ?? '';
      // The spec's example: <https://api.github.com/resource?page=2>; rel="next", <...?page=5>; rel="last"
      for (const part of link.split(', '))
        expect(part).toMatch(/^<http[^<>]+[?&]page=\d+[^<>]*>; rel="(next|last|prev|first)"$/);
      url = /<([^<>]+)>; rel="next"/.exec(link)?.[1];
    }
    expect(count).toBe(250);
  });

  it('error bodies validate against the documented error responses (basic-error, validation-error)', async () => {
    const token = sim.issueUserToken('octo-ada').access_token;
    const unauthorized = await fetch(`${base}/user`);
    expect(unauthorized.status).toBe(401);
    expect(check(responseRef('/user', '401'), await unauthorized.json())).toBe('');
    const bad = await api('/user', 'ghu_not_a_token');
    expect(check(responseRef('/user', '401'), await bad.json())).toBe('');
    const invalid = await api('/user/repos?type=owner&visibility=all', token);
    expect(invalid.status).toBe(422);
    expect(check(responseRef('/user/repos', '422'), await invalid.json())).toBe('');
    sim.faults.add({ match: { path: '/user' }, status: 403, times: 1 });
    const forbidden = await api('/user', token);
    expect(forbidden.status).toBe(403);
    expect(check(responseRef('/user', '403'), await forbidden.json())).toBe('');
  });

  it('GET /rate_limit validates as rate-limit-overview (2022-11-28) and drops `rate` in 2026-03-10', async () => {
    const token = sim.issueUserToken('octo-ada').access_token;
    const res = await api('/rate_limit', token);
    expect(check(responseRef('/rate_limit', '200'), await res.json())).toBe('');
    const newer = (await (
      await api('/rate_limit', token, { 'x-github-api-version': '2026-03-10' })
    ).json()) as object;
    expect(newer).not.toHaveProperty('rate');
    expect(newer).toHaveProperty('resources.core.remaining');
  });
});

describe('webhooks (@octokit/openapi webhook schemas, @octokit/webhooks-methods)', () => {
  let deliveries: Array<{ headers: IncomingHttpHeaders; body: string }>;

  beforeAll(async () => {
    received.length = 0;
    sim.addRepository('octo-ben', { name: 'contract-repo', description: 'made by the contract test' });
    sim.starRepository('octo-ben/contract-repo', 'octo-ada');
    sim.issueUserToken('octo-cai');
    sim.revokeGrant('octo-cai');
    await sim.flushWebhooks();
    deliveries = [...received];
  });

  it('sent repository, push, star and github_app_authorization, in that order', () => {
    expect(deliveries.map((d) => d.headers['x-github-event'])).toEqual([
      'repository',
      'push',
      'star',
      'github_app_authorization',
    ]);
  });

  it('each payload validates against its webhook schema', () => {
    const schemaOf: Record<string, string> = {
      repository: webhookRef('repository-created'),
      push: webhookRef('push'),
      star: webhookRef('star-created'),
      github_app_authorization: webhookRef('github-app-authorization-revoked'),
    };
    for (const { headers, body } of deliveries) {
      const event = String(headers['x-github-event']);
      expect(check(schemaOf[event] ?? '#/none', JSON.parse(body)), event).toBe('');
    }
  });

  it('verify() accepts every X-Hub-Signature-256, and sign() gives the same header for the same body', async () => {
    for (const { headers, body } of deliveries) {
      const signature = String(headers['x-hub-signature-256']);
      expect(await verify(SECRET, body, signature)).toBe(true);
      expect(await sign(SECRET, body)).toBe(signature);
      expect(await verify(SECRET, `${body} `, signature)).toBe(false);
      expect(await verify('another-secret', body, signature)).toBe(false);
    }
  });
});

describe('official clients drive the simulator (@octokit/oauth-methods, @octokit/rest)', () => {
  it('web flow with PKCE: authorization URL, exchangeWebFlowCode, the token on GET /user, paginate 250 repos', async () => {
    const octokit = client();
    const { url } = getWebFlowAuthorizationUrl({
      clientType: 'oauth-app',
      clientId: sim.clientId,
      redirectUrl: sim.redirectUris[0],
      scopes: ['read:user', 'repo'],
      state: 'contract-state',
      login: 'octo-ada',
      request: octokit.request,
    });
    const verifier = randomBytes(32).toString('base64url');
    const authorizeUrl = `${url}&code_challenge=${s256Challenge(verifier)}&code_challenge_method=S256`;
    const res = await fetch(authorizeUrl, { redirect: 'manual' });
    const callback = new URL(res.headers.get('location') ?? '');
    expect(callback.searchParams.get('state')).toBe('contract-state');
    const code = callback.searchParams.get('code') ?? '';

    const { authentication } = await exchangeWebFlowCode({
      clientType: 'github-app',
      clientId: sim.clientId,
      clientSecret: sim.clientSecret,
      code,
      redirectUrl: sim.redirectUris[0],
      // oauth-methods has no PKCE option; a request default adds code_verifier to the body it sends.
      request: octokit.request.defaults({ code_verifier: verifier }),
    });
    expect(authentication.token).toMatch(/^ghu_/);
    expect('refreshToken' in authentication && authentication.refreshToken).toMatch(/^ghr_/);
    expect(
      'expiresAt' in authentication && Date.parse(authentication.expiresAt) - Date.now(),
    ).toBeGreaterThan(7.9 * 60 * 60 * 1000);

    const user = client(authentication.token);
    const { data: me } = await user.rest.users.getAuthenticated();
    expect(me.login).toBe('octo-ada');
    const repos = await user.paginate(user.rest.repos.listForAuthenticatedUser, { per_page: 100 });
    expect(repos).toHaveLength(250);
    expect(new Set(repos.map((r) => r.id)).size).toBe(250);
  });

  it('exchangeWebFlowCode fails for a code whose PKCE verifier is wrong', async () => {
    const octokit = client();
    const verifier = randomBytes(32).toString('base64url');
    const res = await fetch(
      `${base}/login/oauth/authorize?client_id=${sim.clientId}&code_challenge=${s256Challenge(verifier)}&code_challenge_method=S256`,
      { redirect: 'manual' },
    );
    const code = new URL(res.headers.get('location') ?? '').searchParams.get('code') ?? '';
    await expect(
      exchangeWebFlowCode({
        clientType: 'github-app',
        clientId: sim.clientId,
        clientSecret: sim.clientSecret,
        code,
        request: octokit.request.defaults({ code_verifier: randomBytes(32).toString('base64url') }),
      }),
    ).rejects.toThrow(/bad_verification_code/);
  });

  it('refreshToken rotates, a reused refresh token is refused, deleteAuthorization revokes', async () => {
    const octokit = client();
    const first = sim.issueUserToken('octo-ben');
    const { authentication } = await refreshToken({
      clientType: 'github-app',
      clientId: sim.clientId,
      clientSecret: sim.clientSecret,
      refreshToken: first.refresh_token,
      request: octokit.request,
    });
    expect(authentication.token).not.toBe(first.access_token);
    expect(authentication.refreshToken).not.toBe(first.refresh_token);
    const user = client(authentication.token);
    expect((await user.rest.users.getAuthenticated()).data.login).toBe('octo-ben');

    await expect(
      refreshToken({
        clientType: 'github-app',
        clientId: sim.clientId,
        clientSecret: sim.clientSecret,
        refreshToken: first.refresh_token,
        request: octokit.request,
      }),
    ).rejects.toThrow(/bad_refresh_token/);

    const fresh = sim.issueUserToken('octo-ben');
    const deleted = await deleteAuthorization({
      clientType: 'github-app',
      clientId: sim.clientId,
      clientSecret: sim.clientSecret,
      token: fresh.access_token,
      request: octokit.request,
    });
    expect(deleted.status).toBe(204);
    await expect(client(fresh.access_token).rest.users.getAuthenticated()).rejects.toMatchObject({
      status: 401,
    });
  });

  it('@octokit/rest sees a 304 for an unchanged ETag, and it costs no quota', async () => {
    const token = sim.issueUserToken('octo-ada').access_token;
    const octokit = client(token);
    const first = await octokit.rest.users.getAuthenticated();
    const etag = first.headers.etag ?? '';
    const used = sim.quota(token)?.used;
    await expect(
      octokit.rest.users.getAuthenticated({ headers: { 'if-none-match': etag } }),
    ).rejects.toMatchObject({ status: 304 });
    expect(sim.quota(token)?.used).toBe(used);
  });
});

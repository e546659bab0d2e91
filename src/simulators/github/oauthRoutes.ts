// github.com's side of one OAuth app over HTTP: the authorize page and its decision, the token
// endpoint (answering errors with 200, as GitHub does), and the app's grant and token deletion.
import type { Route } from '../shared/router.js';
import type { SimRequest, SimResponse } from '../shared/wire.js';
import { consentPage, errorPage } from './authorizePage.js';
import { GITHUB_DOCS, githubError } from './errors.js';
import { basicCredentials, bodyParams, formatTokenBody, redirect } from './http.js';
import type { GitHubOAuth } from './oauth.js';
import type { GitHubStore } from './store.js';

export interface OAuthRoutesDeps {
  oauth: GitHubOAuth;
  store: GitHubStore;
  clientId: string;
  appName: string;
  /** Skip the consent page (tests only). */
  autoApprove: boolean;
}

export function createOAuthRoutes(deps: OAuthRoutesDeps): Route[] {
  const { oauth, store } = deps;

  const authorize = (req: SimRequest): SimResponse => {
    const check = oauth.checkAuthorizationRequest(req.query);
    if (check.kind === 'unknown_client') {
      return errorPage(404, 'Page not found', 'No OAuth application is registered with that client_id.');
    }
    if (check.kind === 'redirect') return redirect(check.location);
    const { request } = check;
    const logins = [...store.accounts.keys()];
    const selected = request.login !== null && store.accounts.has(request.login) ? request.login : logins[0];
    if (selected === undefined) return errorPage(500, 'No accounts', 'The simulator has no GitHub accounts.');
    if (deps.autoApprove) return redirect(oauth.approve(request, selected));
    return consentPage({
      appName: deps.appName,
      scopes: request.scopes,
      logins,
      selected,
      requestId: oauth.holdRequest(request),
      action: '/login/oauth/authorize',
      redirectUri: request.redirectUri,
    });
  };

  const decide = (req: SimRequest): SimResponse => {
    const form = req.form();
    const request = oauth.takeRequest(form.get('request_id') ?? '');
    if (request === undefined) {
      return errorPage(
        400,
        'Authorization expired',
        'This authorization request is unknown or expired; start again.',
      );
    }
    const decision = form.get('decision');
    if (decision === 'cancel') return redirect(oauth.deny(request));
    const login = form.get('login') ?? '';
    if (decision !== 'authorize' || !store.accounts.has(login)) {
      return errorPage(400, 'Bad request', 'Choose an account and press Authorize or Cancel.');
    }
    return redirect(oauth.approve(request, login));
  };

  const accessToken = (req: SimRequest): SimResponse => {
    // GitHub reads the parameters from the query string or the body (form or JSON); the body wins.
    const params = new URLSearchParams(req.query);
    for (const [key, value] of bodyParams(req)) params.set(key, value);
    const result = oauth.token(params);
    // The token endpoint answers errors with 200 too; only the body tells them apart.
    return { status: 200, ...formatTokenBody({ ...result.body }, req.headers.accept) };
  };

  /** The app's own Basic credentials and an `access_token` in the JSON body; GitHub answers 404 to other apps. */
  const appRequest = (req: SimRequest, docs: string): string | SimResponse => {
    const basic = basicCredentials(req.headers.authorization);
    if (
      basic === undefined ||
      req.params.client_id !== deps.clientId ||
      !oauth.checkClient(basic.user, basic.password)
    ) {
      return githubError(404, 'Not Found', docs);
    }
    const body: unknown = req.rawBody.length === 0 ? {} : req.json();
    const token =
      typeof body === 'object' && body !== null && 'access_token' in body ? body.access_token : undefined;
    if (typeof token !== 'string' || token === '') {
      return githubError(422, 'Invalid request.\n\n"access_token" wasn\'t supplied.', docs);
    }
    return token;
  };

  const deleteGrant = (req: SimRequest): SimResponse => {
    const token = appRequest(req, GITHUB_DOCS.deleteGrant);
    if (typeof token !== 'string') return token;
    // The app ending its own grant: GitHub sends no github_app_authorization event for that.
    if (oauth.revokeGrantOf(token) === undefined)
      return githubError(404, 'Not Found', GITHUB_DOCS.deleteGrant);
    return { status: 204 };
  };

  const deleteToken = (req: SimRequest): SimResponse => {
    const token = appRequest(req, GITHUB_DOCS.deleteToken);
    if (typeof token !== 'string') return token;
    if (!oauth.revokeToken(token)) return githubError(404, 'Not Found', GITHUB_DOCS.deleteToken);
    return { status: 204 };
  };

  return [
    { method: 'GET', path: '/login/oauth/authorize', handler: authorize },
    { method: 'POST', path: '/login/oauth/authorize', handler: decide },
    { method: 'POST', path: '/login/oauth/access_token', handler: accessToken },
    { method: 'DELETE', path: '/applications/:client_id/grant', handler: deleteGrant },
    { method: 'DELETE', path: '/applications/:client_id/token', handler: deleteToken },
  ];
}

// `GET /oauth/:provider/callback`: the end of the authorization code flow. The provider sends the
// browser here with `code` and `state` (or `error`); the flow is completed only in the browser that
// began it (its binding cookie, browserBinding.ts), the cookie is cleared whatever happens, and the
// browser is sent to the flow's allowed `returnTo` with `?connected=<provider>` or
// `?error=<CODE>&provider=<provider>`. Every failure stores nothing. A failure of Junction itself
// (the database down) shows a small page instead: there is no verified place to send the browser.
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { clearedFlowCookie, isBrowserBound } from './browserBinding.js';
import type { CallbackOutcome, CallbackParams, CompleteOptions } from './oauth.js';
import { PROVIDER_ID } from './provider.js';

/** What the route needs of connected accounts (ConnectedAccounts). */
export interface CallbackCompleter {
  complete(provider: string, params: CallbackParams, options?: CompleteOptions): Promise<CallbackOutcome>;
}

export interface CallbackRouteOptions {
  /** Undefined until the accounts are ready; the route answers 503 meanwhile. */
  accounts: () => CallbackCompleter | undefined;
  /** Whether cookies carry the Secure attribute (Junction is served over https). */
  secureCookies: () => boolean;
}

const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  // The callback URL holds a code: never hand it to the next page in a Referer.
  'referrer-policy': 'no-referrer',
  'content-security-policy': "default-src 'none'",
  'x-frame-options': 'deny',
} as const;

export function registerOAuthCallback(server: FastifyInstance, options: CallbackRouteOptions): void {
  server.get<{ Params: { provider: string }; Querystring: Record<string, unknown> }>(
    '/oauth/:provider/callback',
    async (request, reply) => {
      const { provider } = request.params;
      if (!PROVIDER_ID.test(provider))
        return reply.code(404).headers(PAGE_HEADERS).send(page('Not found', 'No such provider.'));
      const accounts = options.accounts();
      if (!accounts)
        return reply
          .code(503)
          .headers(PAGE_HEADERS)
          .send(page('Not available', 'Connected accounts are not available right now; try again.'));
      const params = request.query ?? {};
      const state = typeof params.state === 'string' ? params.state : undefined;
      if (state !== undefined)
        void reply.header(
          'set-cookie',
          clearedFlowCookie(state, { provider, secure: options.secureCookies() }),
        );
      let outcome: CallbackOutcome;
      try {
        outcome = await accounts.complete(provider, params, {
          browserBound: state !== undefined && isBrowserBound(request.headers.cookie, state),
        });
      } catch (error) {
        request.log.error({ provider, err: error }, 'oauth callback failed');
        return reply
          .code(500)
          .headers(PAGE_HEADERS)
          .send(
            page(
              'Connection not completed',
              'Junction could not complete the connection (a temporary failure on its side). Nothing was stored; start again from your app.',
            ),
          );
      }
      logOutcome(request.log, outcome);
      return reply
        .code(303)
        .headers(PAGE_HEADERS)
        .header('location', outcome.redirectTo)
        .send(page('Redirecting', `Continue to <a href="${escapeHtml(outcome.redirectTo)}">your app</a>.`));
    },
  );
}

function logOutcome(log: FastifyBaseLogger, outcome: CallbackOutcome): void {
  if (outcome.ok) log.info({ provider: outcome.provider, userId: outcome.userId }, 'account connected');
  // `detail` holds no secret and nothing the provider wrote (oauth.ts).
  else
    log.warn(
      { provider: outcome.provider, code: outcome.code, detail: outcome.detail },
      'oauth callback refused',
    );
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title: string, html: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head><body><h1>${escapeHtml(title)}</h1><p>${html}</p></body></html>`;
}

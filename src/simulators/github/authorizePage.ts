// The consent page of the simulated github.com: the app's name, the scopes it asks for, the simulated
// signed-in user (a select list of the seeded accounts) and Authorize / Cancel buttons that post back.
// Everything shown is HTML-escaped; the form carries only an opaque id of the held request.
import type { SimResponse } from '../shared/wire.js';

const SCOPE_DESCRIPTIONS: Readonly<Record<string, string>> = {
  'read:user': 'Read all user profile data',
  user: 'Update all user data',
  'user:email': 'Access user email addresses (read-only)',
  repo: 'Full control of private repositories',
  public_repo: 'Access public repositories',
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Browsers may not frame the page nor run scripts on it; the inline style is the only resource. */
const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'",
  'x-frame-options': 'deny',
  'referrer-policy': 'no-referrer',
};

const STYLE = `
body{font-family:-apple-system,BlinkMacSystemFont,"Segoe UI",Helvetica,Arial,sans-serif;background:#f6f8fa;color:#1f2328;margin:0}
main{max-width:440px;margin:48px auto;background:#fff;border:1px solid #d1d9e0;border-radius:6px;padding:24px}
h1{font-size:20px;font-weight:400;margin:0 0 16px}h1 strong{font-weight:600}
.note{font-size:12px;color:#59636e;margin:0 0 16px}
ul{padding-left:20px}li{margin:4px 0}code{font-size:12px;color:#59636e}
label{display:block;font-weight:600;margin:16px 0 6px}select{width:100%;padding:6px;font-size:14px}
.actions{display:flex;gap:8px;margin-top:24px}
button{flex:1;padding:8px 12px;font-size:14px;border-radius:6px;border:1px solid #d1d9e0;background:#f6f8fa;cursor:pointer}
button.primary{background:#1f883d;border-color:#1f883d;color:#fff;font-weight:600}
.redirect{font-size:12px;color:#59636e;margin-top:16px;word-break:break-all}`;

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body><main>${body}</main></body></html>`;
}

export interface ConsentPageInput {
  appName: string;
  scopes: readonly string[];
  /** Seeded logins for the select list. */
  logins: readonly string[];
  /** The login selected at first. */
  selected: string;
  /** Id of the held authorization request. */
  requestId: string;
  /** Where the form posts. */
  action: string;
  redirectUri: string;
}

export function consentPage(input: ConsentPageInput): SimResponse {
  const scopes =
    input.scopes.length === 0
      ? '<li>Read-only access to public information</li>'
      : input.scopes
          .map((s) => `<li>${escapeHtml(SCOPE_DESCRIPTIONS[s] ?? s)} <code>${escapeHtml(s)}</code></li>`)
          .join('');
  const options = input.logins
    .map(
      (login) =>
        `<option value="${escapeHtml(login)}"${login === input.selected ? ' selected' : ''}>${escapeHtml(login)}</option>`,
    )
    .join('');
  const body = `
<h1><strong>${escapeHtml(input.appName)}</strong> wants to access your account</h1>
<p class="note">Simulated GitHub: no real account is involved.</p>
<p>This application will be able to:</p>
<ul>${scopes}</ul>
<form method="post" action="${escapeHtml(input.action)}">
<input type="hidden" name="request_id" value="${escapeHtml(input.requestId)}">
<label for="login">Signed in as</label>
<select id="login" name="login">${options}</select>
<div class="actions">
<button type="submit" name="decision" value="cancel">Cancel</button>
<button type="submit" name="decision" value="authorize" class="primary">Authorize ${escapeHtml(input.appName)}</button>
</div>
</form>
<p class="redirect">Authorizing will redirect to <strong>${escapeHtml(input.redirectUri)}</strong></p>`;
  return { status: 200, headers: { ...PAGE_HEADERS }, body: page(`Authorize ${input.appName}`, body) };
}

/** GitHub's error pages are HTML too (404 for an unknown application, 400 for a stale form). */
export function errorPage(status: number, title: string, message: string): SimResponse {
  return {
    status,
    headers: { ...PAGE_HEADERS },
    body: page(title, `<h1><strong>${escapeHtml(title)}</strong></h1><p>${escapeHtml(message)}</p>`),
  };
}

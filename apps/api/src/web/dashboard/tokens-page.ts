import type { TokenView } from '../../hosts/hosts-service.ts';
import {
  csrfField,
  type FormState,
  fieldAttributes,
  fieldProblem,
  formMessage,
  typedValue,
} from '../form-view.ts';
import { html, type SafeHtml } from '../html.ts';
import { dashboardFrame, when } from './frame.ts';

export interface NewToken {
  readonly label: string;
  readonly token: string;
}

/**
 * A token just created, shown this once (only the answer to the POST that
 * made it holds it; it is never put in a URL). Selectable text without
 * JavaScript; app.js reveals the copy button, which uses the Clipboard API.
 */
export function newTokenBox(created: NewToken): SafeHtml {
  return html`<div class="alert ok new-token" role="status">
  <p>New token <strong>${created.label}</strong>. Copy it now: it is shown only once.</p>
  <p class="token-line"><code class="secret" id="new-token" data-testid="new-token">${created.token}</code>
    <button type="button" class="copy small" data-copy="new-token" hidden>Copy</button></p>
</div>`;
}

export interface TokensData {
  /** Where the host's pages are: '' (/dashboard…) or an account's /account/hosts/<hostname>. */
  readonly base?: string;
  readonly hostname: string;
  readonly csrf: string;
  readonly tokens: readonly TokenView[];
  readonly newToken?: NewToken;
  /** The "new token" form. */
  readonly create?: FormState;
  /** The list (a revocation's notice). */
  readonly list?: FormState;
  readonly now: Date;
}

const revokeQuestion = (token: TokenView) =>
  `Revoke the token “${token.label}”? Routers and scripts using it are refused from then on.`;

export function tokensPage(data: TokensData): SafeHtml {
  const base = data.base ?? '';
  const { csrf, now } = data;
  return dashboardFrame(
    data.hostname,
    'tokens',
    'Update tokens',
    html`<p>A token updates this hostname in place of your password (in a router, a script or an ACME hook) and
  can do nothing else. Give each device its own: revoking one stops only that device.</p>
<section class="card" aria-labelledby="tokens-title">
  <h2 id="tokens-title">Your tokens</h2>
  ${formMessage(data.list)}
  ${
    data.tokens.length === 0
      ? html`<p>No tokens yet.</p>`
      : html`<table class="tokens">
      <thead><tr><th scope="col">Label</th><th scope="col">Created</th><th scope="col">Last used</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
      <tbody>${data.tokens.map(
        (token) => html`<tr>
          <td>${token.label}</td><td>${when(token.createdAt, now)}</td><td>${when(token.lastUsedAt, now)}</td>
          <td><form method="post" action="${base}/dashboard/tokens/${token.id}/revoke" class="inline" data-confirm="${revokeQuestion(token)}">${csrfField(csrf)}
            <button type="submit" class="small danger" aria-label="Revoke token ${token.label}">Revoke</button></form></td>
        </tr>`,
      )}</tbody></table>`
  }
</section>
<section class="card" id="create-token" aria-labelledby="new-token-title">
  <h2 id="new-token-title">New token</h2>
  ${data.newToken ? newTokenBox(data.newToken) : ''}
  <form method="post" action="${base}/dashboard/tokens#create-token" class="inline-form">
    ${formMessage(data.create)}
    ${csrfField(csrf)}
    <label for="token-label">A name for the device that will use it</label>
    <input id="token-label" name="label" required maxlength="64" placeholder="e.g. router" value="${typedValue(data.create, 'label')}"${fieldAttributes(data.create, 'token-label')}>
    <button type="submit">Create token</button>
    ${fieldProblem(data.create, 'token-label')}
  </form>
</section>`,
    base,
  );
}

/** Without JavaScript, a revocation asks here first (with it, app.js asks with a dialog). */
export function revokeTokenPage(hostname: string, csrf: string, token: TokenView, base = ''): SafeHtml {
  return dashboardFrame(
    hostname,
    'tokens',
    'Revoke a token',
    html`<section class="card narrow">
  <p>${revokeQuestion(token)} This cannot be undone; you can create a new token at any time.</p>
  <form method="post" action="${base}/dashboard/tokens/${token.id}/revoke" class="actions">
    ${csrfField(csrf)}
    <input type="hidden" name="confirm" value="yes">
    <button type="submit" class="danger">Revoke “${token.label}”</button>
    <a href="${base}/dashboard/tokens">Keep it</a>
  </form>
</section>`,
    base,
  );
}

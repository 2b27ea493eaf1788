import type { AccountTokenView } from '../../accounts/accounts-service.ts';
import { breakable, tabBar, when } from '../dashboard/frame.ts';
import { type NewToken, newTokenBox } from '../dashboard/tokens-page.ts';
import {
  csrfField,
  type FormState,
  fieldAttributes,
  fieldProblem,
  formMessage,
  typedValue,
} from '../form-view.ts';
import { html, type SafeHtml } from '../html.ts';
import { passwordForm } from '../password-form.ts';

/**
 * The account's pages beside its hosts' list (README "Accounts"): its
 * tokens, the notices it gets, and its settings (password, deletion). Each
 * form posts to its own address and is answered by a redirect back with a
 * notice, or by the page again with the problem beside the form; a new token
 * is the one answer that is a page (it is shown once, never put in a URL).
 */

export const ACCOUNT_TABS = [
  { id: 'hosts', href: '/account', label: 'Hosts' },
  { id: 'tokens', href: '/account/tokens', label: 'Tokens' },
  { id: 'notifications', href: '/account/notifications', label: 'Notifications' },
  { id: 'settings', href: '/account/settings', label: 'Settings' },
] as const;

export type AccountTabId = (typeof ACCOUNT_TABS)[number]['id'];

/** An account page: the address, the tabs, the page's heading and content. */
export function accountFrame(
  email: string,
  current: AccountTabId,
  heading: string,
  body: SafeHtml,
): SafeHtml {
  return html`<p class="context">${email}</p>
${tabBar(ACCOUNT_TABS, current, 'Account', '', 'paired')}
<h1>${heading}</h1>
${body}`;
}

export interface AccountTokensData {
  readonly email: string;
  readonly csrf: string;
  /** The account's hostnames, for the choice of what a token covers. */
  readonly hostnames: readonly string[];
  readonly tokens: readonly AccountTokenView[];
  readonly newToken?: NewToken;
  readonly create?: FormState;
  readonly list?: FormState;
  readonly now: Date;
}

export function accountTokensPage(data: AccountTokensData): SafeHtml {
  const { csrf, now, create } = data;
  const chosen = new Set((typedValue(create, 'hosts') || '').split(' ').filter(Boolean));
  const some = typedValue(create, 'scope') === 'some';
  return accountFrame(
    data.email,
    'tokens',
    'Account tokens',
    html`<p>An account token updates the account's hosts in place of the password: a router sends the account's
  e-mail address as the username and the token as the password. It can do nothing else. Give each device its own.</p>
<section class="card" aria-labelledby="tokens-title">
  <h2 id="tokens-title">Your tokens</h2>
  ${formMessage(data.list)}
  ${
    data.tokens.length === 0
      ? html`<p>No tokens yet.</p>`
      : // The history's table style: cards on a phone, each value labelled.
        html`<table class="history tokens">
      <thead><tr><th scope="col">Label</th><th scope="col">Hosts</th><th scope="col">Last used</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
      <tbody>${data.tokens.map(
        (token) => html`<tr>
          <td data-label="Label">${token.label}</td>
          <td data-label="Hosts" class="address">${token.hosts === null ? 'all' : token.hosts.map((name, i) => html`${i === 0 ? '' : ', '}${breakable(name)}`)}</td>
          <td data-label="Last used">${when(token.lastUsedAt, now)}</td>
          <td><form method="post" action="/account/tokens/${token.id}/delete" class="inline" data-confirm="Delete the token “${token.label}”? Routers using it are refused from then on.">${csrfField(csrf)}
            <button type="submit" class="small danger" aria-label="Delete token ${token.label}">Delete</button></form></td>
        </tr>`,
      )}</tbody></table>`
  }
</section>
<section class="card" id="create-token" aria-labelledby="new-token-title">
  <h2 id="new-token-title">New token</h2>
  ${data.newToken ? newTokenBox(data.newToken) : ''}
  <form method="post" action="/account/tokens#create-token">
    ${formMessage(create)}
    ${csrfField(csrf)}
    <label for="token-label">A name for the device that will use it</label>
    <input id="token-label" name="label" required maxlength="64" placeholder="e.g. router" value="${typedValue(create, 'label')}"${fieldAttributes(create, 'token-label')}>
    ${fieldProblem(create, 'token-label')}
    <fieldset id="token-hosts"${fieldAttributes(create, 'token-hosts')}>
      <legend>It updates</legend>
      <label class="check"><input type="radio" name="scope" value="all"${some ? '' : html` checked`}> Every host of the account, and hosts added later</label>
      <label class="check"><input type="radio" name="scope" value="some"${some ? html` checked` : ''}> Only the hosts ticked here:</label>
      ${data.hostnames.map(
        (name) =>
          html`<label class="check indent"><input type="checkbox" name="hosts" value="${name}"${chosen.has(name) ? html` checked` : ''}> <code>${breakable(name)}</code></label>`,
      )}
    </fieldset>
    ${fieldProblem(create, 'token-hosts')}
    <label for="token-current">Your password</label>
    <input id="token-current" name="currentPassword" type="password" required autocomplete="current-password"${fieldAttributes(create, 'token-current')}>
    ${fieldProblem(create, 'token-current')}
    <button type="submit">Create token</button>
  </form>
</section>`,
  );
}

export interface NotificationHost {
  readonly id: number;
  readonly hostname: string;
  readonly email: boolean;
}

export interface NotificationsData {
  readonly email: string;
  readonly verified: boolean;
  readonly csrf: string;
  readonly hosts: readonly NotificationHost[];
  readonly form?: FormState;
}

/**
 * Per host, which notices go out: a table with a column per kind of notice,
 * so a new kind is one more column and one more field per host.
 */
export function notificationsPage(data: NotificationsData): SafeHtml {
  return accountFrame(
    data.email,
    'notifications',
    'Notifications',
    html`<section class="card" id="notices" aria-labelledby="notices-title">
  <h2 id="notices-title">When a host's address changes</h2>
  <p>A mail to <strong>${data.email}</strong> when a host gets a new address (changes close together come in one mail).</p>
  ${data.verified ? '' : html`<p class="alert warn">The address is not confirmed yet: nothing is mailed until you follow the link we sent.</p>`}
  ${
    data.hosts.length === 0
      ? html`<p>No hosts yet.</p>`
      : html`<form method="post" action="/account/notifications#notices">
    ${formMessage(data.form)}
    ${csrfField(data.csrf)}
    <table class="notices">
      <thead><tr><th scope="col">Host</th><th scope="col" class="choice">E-mail</th></tr></thead>
      <tbody>${data.hosts.map(
        (host) =>
          html`<tr><td class="address"><label for="email-${host.id}"><code>${breakable(host.hostname)}</code></label></td>
          <td><input type="checkbox" id="email-${host.id}" name="email" value="${host.id}"${host.email ? html` checked` : ''}></td></tr>`,
      )}</tbody>
    </table>
    <button type="submit">Save</button>
  </form>`
  }
</section>`,
  );
}

export interface AccountSettingsData {
  readonly email: string;
  readonly csrf: string;
  readonly password?: FormState;
  readonly deletion?: FormState;
}

export function accountSettingsPage(data: AccountSettingsData): SafeHtml {
  const { csrf, email } = data;
  const pw = data.password;
  const del = data.deletion;
  return accountFrame(
    email,
    'settings',
    'Settings',
    html`${passwordForm(
      csrf,
      '/account/settings/password',
      pw,
      'Signs you out everywhere else. Routers using the password stop working; account tokens keep working.',
    )}

<section class="card danger-zone" id="delete-account" aria-labelledby="delete-title">
  <h2 id="delete-title">Delete the account</h2>
  <p>Every host of the account goes with it: their records leave DNS at once and their tokens stop working.</p>
  <form method="post" action="/account/settings/delete#delete-account">
    ${formMessage(del)}
    ${csrfField(csrf)}
    <label for="confirm-email">Type <strong>${email}</strong> to confirm</label>
    <input id="confirm-email" name="confirm" type="email" required autocomplete="off" autocapitalize="none" spellcheck="false" value="${typedValue(del, 'confirm')}"${fieldAttributes(del, 'confirm-email')}>
    ${fieldProblem(del, 'confirm-email')}
    <label for="delete-password">Your password</label>
    <input id="delete-password" name="currentPassword" type="password" required autocomplete="current-password"${fieldAttributes(del, 'delete-password')}>
    ${fieldProblem(del, 'delete-password')}
    <button type="submit" class="danger">Delete the account and its hosts</button>
  </form>
</section>`,
  );
}

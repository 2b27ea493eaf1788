import type { AccountView } from '../../accounts/accounts-service.ts';
import { accountHostBase } from '../dashboard/frame.ts';
import {
  csrfField,
  type FormState,
  fieldAttributes,
  fieldProblem,
  formMessage,
  typedValue,
} from '../form-view.ts';
import { html, raw, type SafeHtml } from '../html.ts';
import { zoneSuffix } from '../pages.ts';
import { accountFrame } from './account-settings-pages.ts';

/**
 * The pages of an account (README "Accounts"): sign-up, the second step of
 * a sign-in with TOTP, the account's own page (its hosts, "add a host"),
 * and the TOTP setup with its QR code, drawn here as SVG (no outside service
 * sees the secret).
 */

export function signupPage(csrf: string, state: FormState = {}): SafeHtml {
  return html`<section class="narrow">
<h1>Create an account</h1>
<form method="post" action="/signup" novalidate>
  ${formMessage(state)}
  ${csrfField(csrf)}
  <label for="email">E-mail address</label>
  <input id="email" name="email" type="email" required autocomplete="email" value="${typedValue(state, 'email')}"${fieldAttributes(state, 'email', 'email-help')}>
  ${fieldProblem(state, 'email')}
  <p id="email-help" class="help">You sign in with it, and get a link to choose a new password if you forget it.</p>
  <label for="password">Password</label>
  <input id="password" name="password" type="password" required minlength="8" autocomplete="new-password"${fieldAttributes(state, 'password')}>
  ${fieldProblem(state, 'password')}
  <label for="confirm">Password again</label>
  <input id="confirm" name="confirm" type="password" required minlength="8" autocomplete="new-password"${fieldAttributes(state, 'confirm')}>
  ${fieldProblem(state, 'confirm')}
  <button type="submit">Create the account</button>
</form>
<p>One hostname is enough? <a href="/register">Get a hostname without an account</a>. Have an account? <a href="/login">Sign in</a>.</p>
</section>`;
}

export function secondFactorPage(pending: string, csrf: string, state: FormState = {}): SafeHtml {
  return html`<section class="narrow">
<h1>Authentication code</h1>
<form method="post" action="/login/code">
  ${formMessage(state)}
  ${csrfField(csrf)}
  <input type="hidden" name="pending" value="${pending}">
  <label for="code">The 6-digit code from your authenticator app, or a recovery code</label>
  <input id="code" name="code" required autocomplete="one-time-code" inputmode="numeric" autocapitalize="none" spellcheck="false"${fieldAttributes(state, 'code')}>
  ${fieldProblem(state, 'code')}
  <button type="submit">Sign in</button>
</form>
</section>`;
}

export interface AccountPageData {
  readonly account: AccountView;
  readonly zones: readonly string[];
  readonly csrf: string;
  readonly limit: number;
  readonly notice?: string;
  readonly addHost?: FormState;
}

export function accountPage(data: AccountPageData): SafeHtml {
  const { account, csrf } = data;
  const hosts =
    account.hosts.length === 0
      ? html`<p>No hosts yet: add one below.</p>`
      : // The history's table style: cards on a phone, each value labelled.
        html`<table class="history hosts">
  <thead><tr><th scope="col">Hostname</th><th scope="col">IPv4</th><th scope="col">IPv6</th><th scope="col">State</th><th scope="col"><span class="sr-only">Pages</span></th></tr></thead>
  <tbody>${account.hosts.map(
    (host) =>
      html`<tr><td data-label="Hostname" class="address"><code>${host.hostname}</code></td><td data-label="IPv4" class="address">${host.ipv4 ?? '–'}</td><td data-label="IPv6" class="address">${host.ipv6 ?? '–'}</td><td data-label="State">${host.status}</td><td><a class="button small" href="${accountHostBase(host.hostname)}/dashboard" aria-label="Manage ${host.hostname}">Manage</a></td></tr>`,
  )}</tbody></table>`;
  const full = account.hosts.length >= data.limit;
  return accountFrame(
    account.email,
    'hosts',
    'Your account',
    html`${data.notice ? html`<p class="alert ok" role="status">${data.notice}</p>` : ''}
<p>Signed in as <strong>${account.email}</strong>${account.verified ? '' : html` (address not confirmed yet: see the mail we sent)`}.</p>
<section class="card" aria-labelledby="hosts-title">
  <h2 id="hosts-title">Your hosts (${account.hosts.length} of ${data.limit})</h2>
  ${hosts}
  <p class="help">Routers update them with your e-mail address as the username and an account token (or your password) as the password; <code>hostname=</code> may list several, one reply line each.</p>
</section>
<section class="card" id="add-host" aria-labelledby="add-host-title">
  <h2 id="add-host-title">Add a host</h2>
  ${
    full
      ? html`<p>This account holds ${data.limit} hosts, the most it may.</p>`
      : html`<form method="post" action="/account/hosts#add-host">
    ${formMessage(data.addHost)}
    ${csrfField(csrf)}
    <label for="hostname">Hostname</label>
    <div class="suffixed">
      <input id="hostname" name="hostname" required maxlength="63" autocomplete="off" autocapitalize="none" spellcheck="false" value="${typedValue(data.addHost, 'hostname')}"${fieldAttributes(data.addHost, 'hostname')}>
      ${zoneSuffix(data.zones, data.addHost ?? {})}
    </div>
    ${fieldProblem(data.addHost, 'hostname')}
    ${fieldProblem(data.addHost, 'zone')}
    <button type="submit">Add the host</button>
  </form>`
  }
</section>
<section class="card" aria-labelledby="totp-title">
  <h2 id="totp-title">Two-factor sign-in</h2>
  ${
    account.totp
      ? html`<p>On: signing in asks for a code from your authenticator app. Routers and scripts use account tokens.</p>`
      : html`<p>Off. <a class="button" href="/account/totp">Set up an authenticator app</a></p>`
  }
</section>`,
  );
}

export function totpStartPage(csrf: string, state: FormState = {}): SafeHtml {
  return html`<section class="narrow">
<h1>Set up an authenticator app</h1>
<p>Once it is on, signing in asks for a code from the app, and your password no longer works in routers or scripts: they use account tokens.</p>
<form method="post" action="/account/totp">
  ${formMessage(state)}
  ${csrfField(csrf)}
  <label for="current">Your password</label>
  <input id="current" name="currentPassword" type="password" required autocomplete="current-password"${fieldAttributes(state, 'current')}>
  ${fieldProblem(state, 'current')}
  <button type="submit">Show the QR code</button>
</form>
<p><a href="/account">Back to the account</a></p>
</section>`;
}

export function totpSetupPage(
  setup: { secret: string; qrSvg: string; recoveryCodes: readonly string[] },
  csrf: string,
  state: FormState = {},
): SafeHtml {
  return html`<section class="narrow">
<h1>Scan this code</h1>
<figure class="qr" aria-label="QR code for your authenticator app">${raw(setup.qrSvg)}</figure>
<p>Or type this key into the app: <code class="secret" id="totp-secret">${setup.secret}</code></p>
<h2>Recovery codes</h2>
<p>Each stands in for a code once, if the phone is lost. They are shown only now: keep them somewhere safe.</p>
<ul class="recovery">${setup.recoveryCodes.map((code) => html`<li><code>${code}</code></li>`)}</ul>
<form method="post" action="/account/totp/confirm">
  ${formMessage(state)}
  ${csrfField(csrf)}
  <label for="code">The 6-digit code the app shows now</label>
  <input id="code" name="code" required autocomplete="one-time-code" inputmode="numeric" pattern="[0-9 ]{6,7}"${fieldAttributes(state, 'code')}>
  ${fieldProblem(state, 'code')}
  <button type="submit">Turn it on</button>
</form>
</section>`;
}

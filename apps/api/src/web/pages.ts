import {
  csrfField,
  type FormState,
  fieldAttributes,
  fieldProblem,
  formMessage,
  typedValue,
} from './form-view.ts';
import { html, type SafeHtml } from './html.ts';

/** The pages before signing in, and the message and error pages. */

export function landingPage(zone: string, registrationOpen: boolean): SafeHtml {
  return html`<section class="hero">
  <h1>A stable name for your home connection</h1>
  <p>Register <code>yourname.${zone}</code>, point your router, a cron job or a scheduled task at one URL,
  and the name follows your public address. Free, no ads, works with every router that speaks DynDNS.</p>
  <p>${registrationOpen ? html`<a class="button" href="/register">Get a hostname</a> ` : ''}<a href="/login">Sign in</a></p>
</section>
<section class="grid">
  <div class="card"><h2>Routers built in</h2><p>Fritz!Box, OpenWrt, pfSense, OPNsense, UniFi, DD-WRT, MikroTik and anything with a "custom DynDNS" form.</p></div>
  <div class="card"><h2>Scripts welcome</h2><p>curl or wget from cron, PowerShell from a scheduled task: one URL, no client to install.</p></div>
  <div class="card"><h2>IPv4 and IPv6</h2><p>Separate updaters for each family never overwrite each other.</p></div>
</section>
`;
}

/**
 * After the hostname: the zone, as fixed text with one zone, as a choice
 * (a select in the same place) with several. The default zone comes first.
 */
export function zoneSuffix(zones: readonly string[], state: FormState): SafeHtml {
  if (zones.length <= 1) return html`<span class="suffix">.${zones[0] ?? ''}</span>`;
  const chosen = typedValue(state, 'zone', zones[0]);
  const options = zones.map(
    (zone) => html`<option value="${zone}"${zone === chosen ? html` selected` : ''}>.${zone}</option>`,
  );
  return html`<select id="zone" name="zone" class="suffix" aria-label="Zone"${fieldAttributes(state, 'zone')}>${options}</select>`;
}

export function registerPage(zones: readonly string[], csrf: string, state: FormState = {}): SafeHtml {
  return html`<section class="narrow">
<h1>Get a hostname</h1>
<form method="post" action="/register" novalidate data-availability>
  ${formMessage(state)}
  ${csrfField(csrf)}
  <label for="hostname">Hostname</label>
  <div class="suffixed">
    <input id="hostname" name="hostname" required maxlength="63" autocomplete="off" autocapitalize="none"
      spellcheck="false" pattern="[A-Za-z0-9-]{1,63}" value="${typedValue(state, 'hostname')}"${fieldAttributes(state, 'hostname', 'hostname-help hostname-status')}>
    ${zoneSuffix(zones, state)}
  </div>
  ${fieldProblem(state, 'hostname')}
  ${fieldProblem(state, 'zone')}
  <p id="hostname-help" class="help">Letters, digits and hyphens; not starting or ending with a hyphen.</p>
  <p id="hostname-status" class="help" aria-live="polite"></p>
  <label for="password">Password</label>
  <input id="password" name="password" type="password" required minlength="8" autocomplete="new-password"${fieldAttributes(state, 'password', 'password-help')}>
  ${fieldProblem(state, 'password')}
  <p id="password-help" class="help">At least 8 characters. Routers and scripts can use an update token instead (you can create them later).</p>
  <label for="confirm">Password again</label>
  <input id="confirm" name="confirm" type="password" required minlength="8" autocomplete="new-password"${fieldAttributes(state, 'confirm')}>
  ${fieldProblem(state, 'confirm')}
  <label for="email">Contact e-mail <span class="optional">(optional)</span></label>
  <input id="email" name="email" type="email" autocomplete="email" value="${typedValue(state, 'email')}"${fieldAttributes(state, 'email')}>
  ${fieldProblem(state, 'email')}
  <button type="submit">Register</button>
</form>
<p>Already have one? <a href="/login">Sign in</a>.</p>
</section>`;
}

export function loginPage(zones: readonly string[], csrf: string, state: FormState = {}): SafeHtml {
  // With several zones a bare label means the default zone; a host elsewhere signs in with its full name.
  const suffix =
    zones.length > 1
      ? html`<p id="hostname-help" class="help">Your full hostname (like <code>alice.${zones[1] ?? ''}</code>); a name without a zone means <code>.${zones[0] ?? ''}</code>.</p>`
      : html``;
  return html`<section class="narrow">
<h1>Sign in</h1>
<form method="post" action="/login">
  ${formMessage(state)}
  ${csrfField(csrf)}
  <label for="hostname">Hostname, or your account's e-mail address</label>
  <div class="suffixed">
    <input id="hostname" name="hostname" required autocomplete="username" autocapitalize="none" spellcheck="false" value="${typedValue(state, 'hostname')}"${zones.length > 1 ? html` aria-describedby="hostname-help"` : ''}>
    ${zones.length > 1 ? '' : html`<span class="suffix">.${zones[0] ?? ''}</span>`}
  </div>
  ${suffix}
  <label for="password">Password</label>
  <input id="password" name="password" type="password" required autocomplete="current-password">
  <button type="submit">Sign in</button>
</form>
<p><a href="/forgot-password">Forgot your password?</a> · No hostname yet? <a href="/register">Get one</a>, or <a href="/signup">create an account</a> for several.</p>
</section>`;
}

export function messagePage(title: string, text: string, link: { href: string; label: string }): SafeHtml {
  return html`<section class="narrow"><h1>${title}</h1><p>${text}</p><p><a class="button" href="${link.href}">${link.label}</a></p></section>`;
}

export function notFoundPage(signedIn: boolean): SafeHtml {
  return html`<section class="narrow">
<h1>Page not found</h1>
<p>There is no page at this address. It may be mistyped, or the link you followed is old.</p>
<p>${
    signedIn
      ? html`<a class="button" href="/dashboard">Your dashboard</a>`
      : html`<a class="button" href="/">Home</a> <a href="/login">Sign in</a>`
  }</p>
</section>`;
}

export function errorPage(title: string, text: string): SafeHtml {
  return html`<section class="narrow"><h1>${title}</h1><p>${text}</p><p><a class="button" href="/">Home</a></p></section>`;
}

import {
  csrfField,
  type FormState,
  fieldAttributes,
  fieldProblem,
  formMessage,
  typedValue,
} from '../form-view.ts';
import { html, type SafeHtml } from '../html.ts';

/**
 * The pages a mailed link opens, and "forgot password" (README "Accounts").
 * A link's page only shows a form: the POST does the work, so a mail
 * scanner fetching the link changes nothing.
 */

export function verifyEmailPage(token: string, csrf: string): SafeHtml {
  return html`<section class="narrow">
<h1>Confirm your address</h1>
<form method="post" action="/verify-email">
  ${csrfField(csrf)}
  <input type="hidden" name="token" value="${token}">
  <p>Press the button to confirm that this address is yours.</p>
  <button type="submit">Confirm my address</button>
</form>
</section>`;
}

/** Where to turn when no mail can be sent: the operator, by the way they gave, or by the CLI. */
export function operatorHelp(contact: string | undefined): SafeHtml {
  return contact
    ? html`<p>This service sends no mail. To get back in, ask the operator for a reset link: <strong>${contact}</strong>.</p>`
    : html`<p>This service sends no mail. To get back in, ask the operator of this service for a reset link (they make one with <code>npm run cli -- account reset-password &lt;your address&gt;</code>).</p>`;
}

export function forgotPasswordPage(
  csrf: string,
  options: { mail: boolean; contact: string | undefined },
  state: FormState = {},
): SafeHtml {
  if (!options.mail) {
    return html`<section class="narrow"><h1>Forgot your password?</h1>${operatorHelp(options.contact)}<p><a href="/login">Back to sign-in</a></p></section>`;
  }
  return html`<section class="narrow">
<h1>Forgot your password?</h1>
<form method="post" action="/forgot-password">
  ${formMessage(state)}
  ${csrfField(csrf)}
  <label for="email">Your account's e-mail address</label>
  <input id="email" name="email" type="email" required autocomplete="email" value="${typedValue(state, 'email')}"${fieldAttributes(state, 'email')}>
  ${fieldProblem(state, 'email')}
  <p class="help">We mail a link to choose a new password (valid for one hour). A hostname without an account: its password can only be reset by the operator.</p>
  <button type="submit">Mail me a link</button>
</form>
<p><a href="/login">Back to sign-in</a></p>
</section>`;
}

export function resetSentPage(): SafeHtml {
  return html`<section class="narrow"><h1>Check your mail</h1><p>If an account has this address, a mail with a link to choose a new password is on its way. The link is valid for one hour.</p><p><a class="button" href="/login">Back to sign-in</a></p></section>`;
}

export function resetPasswordPage(token: string, csrf: string, state: FormState = {}): SafeHtml {
  return html`<section class="narrow">
<h1>Choose a new password</h1>
<form method="post" action="/reset-password">
  ${formMessage(state)}
  ${csrfField(csrf)}
  <input type="hidden" name="token" value="${token}">
  <label for="password">New password</label>
  <input id="password" name="password" type="password" required minlength="8" autocomplete="new-password"${fieldAttributes(state, 'password')}>
  ${fieldProblem(state, 'password')}
  <label for="confirm">New password again</label>
  <input id="confirm" name="confirm" type="password" required minlength="8" autocomplete="new-password"${fieldAttributes(state, 'confirm')}>
  ${fieldProblem(state, 'confirm')}
  <p class="help">Every place signed in to this account is signed out.</p>
  <button type="submit">Set the new password</button>
</form>
</section>`;
}

export function invalidLinkPage(): SafeHtml {
  return html`<section class="narrow"><h1>This link does not work</h1><p>It was used already, it expired (links are valid for one hour), or it was not copied whole.</p><p><a class="button" href="/forgot-password">Ask for a new one</a></p></section>`;
}

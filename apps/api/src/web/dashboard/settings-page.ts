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
import { dashboardFrame } from './frame.ts';
import { type WebhookData, webhookSection } from './webhook-section.ts';

export interface SettingsData {
  /** Where the host's pages are: '' (/dashboard…) or an account's /account/hosts/<hostname>. */
  readonly base?: string;
  readonly hostname: string;
  /** The hostname's own label (`alice` of `alice.<zone>`): deletion takes either. */
  readonly label: string;
  readonly csrf: string;
  /** A host of this account: it has no password of its own, the account's stands in. */
  readonly accountEmail?: string;
  readonly password?: FormState;
  readonly deletion?: FormState;
  readonly webhook?: WebhookData;
}

export function settingsPage(data: SettingsData): SafeHtml {
  const base = data.base ?? '';
  const { csrf, hostname, label } = data;
  const pw = data.password;
  const del = data.deletion;
  return dashboardFrame(
    hostname,
    'settings',
    'Settings',
    html`${
      data.accountEmail
        ? html`<section class="card" id="change-password" aria-labelledby="password-title">
  <h2 id="password-title">Password</h2>
  <p>This host belongs to the account <strong>${data.accountEmail}</strong> and has no password of its own: routers use the account's address with an account token, and the account's password is changed <a href="/account/settings#change-password">on the account's page</a>.</p>
</section>`
        : passwordForm(
            csrf,
            `${base}/dashboard/settings/password`,
            pw,
            'Signs you out everywhere else. Routers using the old password stop working; tokens keep working.',
          )
    }

${data.webhook ? webhookSection(data.webhook) : ''}

<section class="card danger-zone" id="delete-host" aria-labelledby="delete-title">
  <h2 id="delete-title">Delete this hostname</h2>
  <p>Its records leave DNS at once, its tokens stop working, and the name becomes free for anyone.</p>
  <form method="post" action="${base}/dashboard/settings/delete#delete-host">
    ${formMessage(del)}
    ${csrfField(csrf)}
    <label for="confirm-name">Type <strong>${hostname}</strong> (or just <strong>${label}</strong>) to confirm</label>
    <input id="confirm-name" name="confirm" required autocomplete="off" autocapitalize="none" spellcheck="false" value="${typedValue(del, 'confirm')}"${fieldAttributes(del, 'confirm-name')}>
    ${fieldProblem(del, 'confirm-name')}
    <label for="delete-password">Your password</label>
    <input id="delete-password" name="password" type="password" required autocomplete="current-password"${fieldAttributes(del, 'delete-password', 'delete-password-help')}>
    ${fieldProblem(del, 'delete-password')}
    <p class="help" id="delete-password-help">${data.accountEmail ? `The password of ${data.accountEmail}` : 'The password'}, not an update token.</p>
    <button type="submit" class="danger">Delete ${hostname}</button>
  </form>
</section>`,
    base,
  );
}

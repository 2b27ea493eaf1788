import type { WebhookDelivery } from '@mydns/db';
import { csrfField, type FormState, fieldAttributes, formMessage, typedValue } from '../form-view.ts';
import { html, type SafeHtml } from '../html.ts';
import { when } from './frame.ts';

export interface WebhookData {
  readonly csrf: string;
  readonly url: string | undefined;
  readonly last: WebhookDelivery | undefined;
  /** The secret of a URL just set: only the answer to that POST holds it (as a new token). */
  readonly newSecret?: string;
  readonly form?: FormState;
  readonly now: Date;
  /** Where the host's pages are: '' (/dashboard…) or an account's /account/hosts/<hostname>. */
  readonly base?: string;
}

const outcome = (last: WebhookDelivery) =>
  last.httpStatus !== null ? `HTTP ${last.httpStatus}` : (last.error ?? 'no answer');

/** The settings page's webhook card (README "Webhooks"): the target, its last delivery, set or switch off. */
export function webhookSection(data: WebhookData): SafeHtml {
  const { last } = data;
  return html`<section class="card" id="webhook" aria-labelledby="webhook-title">
  <h2 id="webhook-title">Webhook</h2>
  <p>MyDNS posts signed JSON to this URL when the address changes, when the hostname goes dormant and when it comes back.</p>
  ${
    data.newSecret
      ? html`<div class="alert ok new-token" role="status">
  <p>Webhook saved. Its signing secret (the key of <code>X-MyDNS-Signature</code>); copy it now: it is shown only once.</p>
  <p class="token-line"><code class="secret" id="webhook-secret" data-testid="webhook-secret">${data.newSecret}</code>
    <button type="button" class="copy small" data-copy="webhook-secret" hidden>Copy</button></p>
</div>`
      : ''
  }
  ${
    data.url === undefined
      ? html`<p>No webhook.</p>`
      : html`<p>Posting to <code class="record">${data.url}</code>.</p>
  <p data-testid="webhook-last">Last delivery: ${
    last
      ? html`${when(last.at.toISOString(), data.now)}, ${last.event}: ${outcome(last)}${last.status === 'failed' ? ' (given up)' : last.status === 'queued' ? ' (will be retried)' : ''}`
      : 'none yet'
  }</p>`
  }
  <form method="post" action="${data.base ?? ''}/dashboard/settings/webhook#webhook">
    ${formMessage(data.form)}
    ${csrfField(data.csrf)}
    <label for="webhook-url">URL (a new one gets a new secret)</label>
    <input id="webhook-url" name="url" type="url" required maxlength="2048" placeholder="https://example.com/hook" autocomplete="off" value="${typedValue(data.form, 'url', data.url ?? '')}"${fieldAttributes(data.form, 'webhook-url')}>
    <button type="submit">Save webhook</button>
  </form>
  ${
    data.url === undefined
      ? ''
      : html`<form method="post" action="${data.base ?? ''}/dashboard/settings/webhook#webhook" class="inline">
    ${csrfField(data.csrf)}
    <input type="hidden" name="clear" value="yes">
    <button type="submit" class="small danger">Switch the webhook off</button>
  </form>`
  }
</section>`;
}

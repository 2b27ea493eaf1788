import { csrfField, type FormState, formMessage } from '../form-view.ts';
import { html, type SafeHtml } from '../html.ts';
import type { Setup, SetupGroup } from '../setups.ts';
import { dashboardFrame } from './frame.ts';
import { type NewToken, newTokenBox } from './tokens-page.ts';

export interface SetupsData {
  /** Where the host's pages are: '' (/dashboard…) or an account's /account/hosts/<hostname>. */
  readonly base?: string;
  readonly hostname: string;
  readonly csrf: string;
  readonly setups: readonly Setup[];
  /** A token created by this request, shown once and filled into the setups. */
  readonly newToken?: NewToken;
  readonly form?: FormState;
}

const GROUPS: readonly { id: SetupGroup; title: string; intro: string }[] = [
  {
    id: 'computer',
    title: 'On a computer or server',
    intro: 'A line in cron, a Windows scheduled task, or an updater daemon.',
  },
  {
    id: 'router',
    title: 'On your router',
    intro: 'Routers update the name themselves when their address changes.',
  },
  {
    id: 'certificate',
    title: 'Certificates for your hostname',
    intro: 'ACME DNS-01 hooks: a certificate for your hostname and its wildcard, renewed unattended.',
  },
];

function setupBlock(setup: Setup): SafeHtml {
  return html`<details class="setup" id="setup-${setup.id}">
  <summary>${setup.title}</summary>
  <p>${setup.intro}</p>
  <pre><code id="code-${setup.id}" data-setup="${setup.id}">${setup.code}</code></pre>
  <button type="button" class="copy small" data-copy="code-${setup.id}" hidden>Copy</button>
  ${setup.note ? html`<p class="help">${setup.note}</p>` : ''}
</details>`;
}

export function setupsPage(data: SetupsData): SafeHtml {
  const base = data.base ?? '';
  return dashboardFrame(
    data.hostname,
    'setups',
    'Set up your updater',
    html`${
      data.newToken
        ? html`${newTokenBox(data.newToken)}<p>The setups below already contain it.</p>`
        : html`<section class="card">
  <p>These setups use an <strong>update token</strong> in place of your password: a token can only update
  this hostname, and you can revoke it at any time.</p>
  <form method="post" action="${base}/dashboard/setups" class="inline-form">
    ${formMessage(data.form)}
    ${csrfField(data.csrf)}
    <button type="submit">Create a token and fill it in</button>
  </form>
  <p class="help">Or replace <code>YOUR_TOKEN</code> below with a token you already have, or with your password.</p>
</section>`
    }
${GROUPS.map(
  (group) => html`<section class="card" aria-labelledby="group-${group.id}">
  <h2 id="group-${group.id}">${group.title}</h2>
  <p>${group.intro}</p>
  ${data.setups.filter((setup) => setup.group === group.id).map(setupBlock)}
</section>`,
)}`,
    base,
  );
}

import type { HistoryView, HostView, TokenView } from '../hosts/hosts-service.ts';
import { html, type SafeHtml } from './html.ts';
import type { Setup } from './setups.ts';

/** Server-rendered pages: they work without JavaScript; /static/app.js only adds conveniences. */

export interface PageContext {
  readonly zone: string;
  readonly title: string;
  readonly signedIn?: { readonly hostname: string; readonly csrf: string };
}

export function layout(context: PageContext, body: SafeHtml): SafeHtml {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${context.title} · MyDNS</title>
<link rel="stylesheet" href="/static/style.css">
<script src="/static/app.js" defer></script>
</head>
<body>
<header class="top">
  <a class="brand" href="/">MyDNS</a>
  <nav>
    ${
      context.signedIn
        ? html`<span class="who">${context.signedIn.hostname}</span>
      <form method="post" action="/logout" class="inline">
        <input type="hidden" name="_csrf" value="${context.signedIn.csrf}">
        <button type="submit" class="link">Sign out</button>
      </form>`
        : html`<a href="/login">Sign in</a> <a href="/register" class="button small">Get a hostname</a>`
    }
  </nav>
</header>
<main>
${body}
</main>
<footer>MyDNS — free dynamic DNS under <strong>${context.zone}</strong>. Your address comes from your connection; your password is stored only as a bcrypt hash.</footer>
</body>
</html>`;
}

export interface FormState {
  readonly values?: Readonly<Record<string, string>>;
  readonly errors?: readonly string[];
  readonly notice?: string;
}

function messages(state: FormState): SafeHtml {
  return html`${
    state.errors && state.errors.length > 0
      ? html`<div class="alert error" role="alert"><ul>${state.errors.map((e) => html`<li>${e}</li>`)}</ul></div>`
      : ''
  }${state.notice ? html`<div class="alert ok" role="status">${state.notice}</div>` : ''}`;
}

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

export function registerPage(zone: string, csrf: string, state: FormState = {}): SafeHtml {
  const v = state.values ?? {};
  return html`<section class="narrow">
<h1>Get a hostname</h1>
${messages(state)}
<form method="post" action="/register" novalidate data-availability>
  <input type="hidden" name="_csrf" value="${csrf}">
  <label for="hostname">Hostname</label>
  <div class="suffixed">
    <input id="hostname" name="hostname" required maxlength="63" autocomplete="off" autocapitalize="none"
      spellcheck="false" pattern="[A-Za-z0-9-]{1,63}" value="${v.hostname ?? ''}" aria-describedby="hostname-help hostname-status">
    <span class="suffix">.${zone}</span>
  </div>
  <p id="hostname-help" class="help">Letters, digits and hyphens; not starting or ending with a hyphen.</p>
  <p id="hostname-status" class="help" aria-live="polite"></p>
  <label for="password">Password</label>
  <input id="password" name="password" type="password" required minlength="8" autocomplete="new-password" aria-describedby="password-help">
  <p id="password-help" class="help">At least 8 characters. Routers and scripts can use an update token instead (you can create them later).</p>
  <label for="confirm">Password again</label>
  <input id="confirm" name="confirm" type="password" required minlength="8" autocomplete="new-password">
  <label for="email">Contact e-mail <span class="optional">(optional)</span></label>
  <input id="email" name="email" type="email" autocomplete="email" value="${v.email ?? ''}">
  <button type="submit">Register</button>
</form>
<p>Already have one? <a href="/login">Sign in</a>.</p>
</section>`;
}

export function loginPage(zone: string, csrf: string, state: FormState = {}): SafeHtml {
  const v = state.values ?? {};
  return html`<section class="narrow">
<h1>Sign in</h1>
${messages(state)}
<form method="post" action="/login">
  <input type="hidden" name="_csrf" value="${csrf}">
  <label for="hostname">Hostname</label>
  <div class="suffixed">
    <input id="hostname" name="hostname" required autocomplete="username" autocapitalize="none" spellcheck="false" value="${v.hostname ?? ''}">
    <span class="suffix">.${zone}</span>
  </div>
  <label for="password">Password</label>
  <input id="password" name="password" type="password" required autocomplete="current-password">
  <button type="submit">Sign in</button>
</form>
<p>No hostname yet? <a href="/register">Get one</a>.</p>
</section>`;
}

export interface DashboardData {
  readonly host: HostView;
  readonly csrf: string;
  readonly inactivityDays: number;
  readonly tokens: readonly TokenView[];
  readonly history: readonly HistoryView[];
  readonly setups: readonly Setup[];
  /** A token created by this request, shown once. */
  readonly newToken?: { readonly label: string; readonly token: string };
  readonly state?: FormState;
  readonly now: Date;
}

const when = (iso: string | null, now: Date) => {
  if (!iso) return 'never';
  const ms = now.getTime() - Date.parse(iso);
  const minutes = Math.round(ms / 60_000);
  const relative =
    minutes < 1
      ? 'just now'
      : minutes < 60
        ? `${minutes} min ago`
        : minutes < 2880
          ? `${Math.round(minutes / 60)} h ago`
          : `${Math.round(minutes / 1440)} days ago`;
  return html`<time datetime="${iso}" title="${iso}">${relative}</time>`;
};

function dormancy(data: DashboardData): SafeHtml {
  const { host } = data;
  if (host.status === 'disabled') return html`<span class="badge bad">disabled by the operator</span>`;
  if (host.status === 'dormant') {
    return html`<span class="badge warn">dormant</span> — no update for ${data.inactivityDays} days; the next update brings it back at once.`;
  }
  const since = Date.parse(host.lastSeenAt ?? host.createdAt);
  const left = Math.max(
    0,
    Math.ceil((since + data.inactivityDays * 86_400_000 - data.now.getTime()) / 86_400_000),
  );
  return html`<span class="badge ok">active</span> — goes dormant in <strong data-testid="dormant-days">${left} days</strong> without an update.`;
}

function csrfField(csrf: string): SafeHtml {
  return html`<input type="hidden" name="_csrf" value="${csrf}">`;
}

export function dashboardPage(data: DashboardData): SafeHtml {
  const { host, csrf, now } = data;
  const mail = host.mail;
  return html`<h1>${host.hostname}</h1>
${messages(data.state ?? {})}
<section class="card" aria-labelledby="address-title">
  <h2 id="address-title">Your address</h2>
  <dl class="facts">
    <dt>IPv4</dt><dd data-testid="ipv4">${host.ipv4 ?? '—'}</dd>
    <dt>IPv6</dt><dd data-testid="ipv6">${host.ipv6 ?? '—'}</dd>
    <dt>Last change</dt><dd>${when(host.updatedAt, now)}</dd>
    <dt>Last update</dt><dd>${when(host.lastSeenAt, now)}</dd>
    <dt>Status</dt><dd>${dormancy(data)}</dd>
  </dl>
</section>

<section class="card" aria-labelledby="setup-title">
  <h2 id="setup-title">Set up your updater</h2>
  ${
    data.newToken
      ? html`<div class="alert ok" role="status">New token <strong>${data.newToken.label}</strong>:
          <code class="secret" data-testid="new-token">${data.newToken.token}</code><br>
          Copy it now: it is shown only once. The setups below already contain it.</div>`
      : html`<p>These setups use an <strong>update token</strong> in place of your password: a token can only update
          this hostname, and you can revoke it at any time.</p>
        <form method="post" action="/dashboard/tokens" class="inline-form">
          ${csrfField(csrf)}
          <input type="hidden" name="label" value="setup">
          <button type="submit">Create a token and fill it in</button>
        </form>
        <p class="help">Or replace <code>YOUR_TOKEN</code> below with a token you already have, or with your password.</p>`
  }
  <div class="setups">
  ${data.setups.map(
    (setup) => html`<details class="setup" id="setup-${setup.id}">
      <summary>${setup.title}</summary>
      <p>${setup.intro}</p>
      <pre><code data-setup="${setup.id}">${setup.code}</code></pre>
      <button type="button" class="copy small" data-copy="setup-${setup.id}">Copy</button>
      ${setup.note ? html`<p class="help">${setup.note}</p>` : ''}
    </details>`,
  )}
  </div>
</section>

<section class="card" aria-labelledby="tokens-title">
  <h2 id="tokens-title">Update tokens</h2>
  ${
    data.tokens.length === 0
      ? html`<p>No tokens yet.</p>`
      : html`<table>
      <thead><tr><th scope="col">Label</th><th scope="col">Created</th><th scope="col">Last used</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
      <tbody>${data.tokens.map(
        (token) => html`<tr>
          <td>${token.label}</td><td>${when(token.createdAt, now)}</td><td>${when(token.lastUsedAt, now)}</td>
          <td><form method="post" action="/dashboard/tokens/${token.id}/revoke" class="inline">${csrfField(csrf)}
            <button type="submit" class="small danger" aria-label="Revoke token ${token.label}">Revoke</button></form></td>
        </tr>`,
      )}</tbody></table>`
  }
  <form method="post" action="/dashboard/tokens" class="inline-form">
    ${csrfField(csrf)}
    <label for="token-label">New token for</label>
    <input id="token-label" name="label" required maxlength="64" placeholder="e.g. router">
    <button type="submit">Create token</button>
  </form>
</section>

<section class="card" aria-labelledby="history-title">
  <h2 id="history-title">Recent updates</h2>
  ${
    data.history.length === 0
      ? html`<p>No updates yet.</p>`
      : html`<div class="scroll"><table data-testid="history">
      <thead><tr><th scope="col">When</th><th scope="col">From</th><th scope="col">Result</th><th scope="col">Address</th><th scope="col">Client</th></tr></thead>
      <tbody>${data.history.map(
        (entry) => html`<tr>
          <td>${when(entry.lastAt ?? entry.at, now)}</td><td>${entry.sourceAddress}</td>
          <td><code>${entry.result}</code>${entry.count > 1 ? html` ×${entry.count} <span class="help">since ${when(entry.at, now)}</span>` : ''}</td>
          <td>${[entry.old.ipv4, entry.old.ipv6].filter(Boolean).join(', ') || '—'} → ${[entry.new.ipv4, entry.new.ipv6].filter(Boolean).join(', ') || '—'}</td>
          <td class="agent">${entry.userAgent ?? ''}</td>
        </tr>`,
      )}</tbody></table></div>`
  }
</section>

<section class="card" aria-labelledby="mail-title">
  <h2 id="mail-title">Mail forwarding</h2>
  <p>If your provider blocks port 25, MyDNS can accept mail for <code>${host.hostname}</code> and pass the
  connection on to your mail server at your current address, on a port you choose. No mail is stored.</p>
  <form method="post" action="/dashboard/mail">
    ${csrfField(csrf)}
    <label class="check"><input type="checkbox" name="enabled" value="on" ${mail.enabled ? html`checked` : ''}> Forward mail for ${host.hostname}</label>
    <label for="mail-port">Port of your mail server</label>
    <input id="mail-port" name="port" inputmode="numeric" value="${mail.port ?? ''}" placeholder="e.g. 2525">
    <label for="mail-client">How your server learns the sender's address</label>
    <select id="mail-client" name="clientAddress">
      ${(['xclient', 'proxy-v2', 'none'] as const).map(
        (mode) =>
          html`<option value="${mode}" ${mail.clientAddress === mode ? html`selected` : ''}>${
            {
              xclient: 'XCLIENT (Postfix)',
              'proxy-v2': 'PROXY protocol v2 (Postfix, Exim, Dovecot)',
              none: 'not at all',
            }[mode]
          }</option>`,
      )}
    </select>
    <label for="mail-tls">TLS to your server</label>
    <select id="mail-tls" name="tls">
      ${(['opportunistic', 'fingerprint', 'verify', 'none'] as const).map(
        (mode) =>
          html`<option value="${mode}" ${mail.tls === mode ? html`selected` : ''}>${
            {
              opportunistic: 'when offered (self-signed is fine)',
              fingerprint: 'pinned certificate fingerprint',
              verify: 'verified certificate',
              none: 'never',
            }[mode]
          }</option>`,
      )}
    </select>
    <label for="mail-fingerprint">Certificate SHA-256 <span class="optional">(for a pinned certificate)</span></label>
    <input id="mail-fingerprint" name="fingerprint" value="${mail.fingerprint ?? ''}" spellcheck="false">
    <button type="submit">Save mail settings</button>
  </form>
</section>

<section class="card" aria-labelledby="password-title">
  <h2 id="password-title">Change password</h2>
  <form method="post" action="/dashboard/password">
    ${csrfField(csrf)}
    <label for="current">Current password</label>
    <input id="current" name="current" type="password" required autocomplete="current-password">
    <label for="new-password">New password</label>
    <input id="new-password" name="password" type="password" required minlength="8" autocomplete="new-password">
    <label for="new-confirm">New password again</label>
    <input id="new-confirm" name="confirm" type="password" required minlength="8" autocomplete="new-password">
    <button type="submit">Change password</button>
    <p class="help">Signs you out everywhere else. Routers using the old password stop working; tokens keep working.</p>
  </form>
</section>

<section class="card danger-zone" aria-labelledby="delete-title">
  <h2 id="delete-title">Delete this hostname</h2>
  <p>Its records leave DNS at once and the name becomes free for anyone.</p>
  <form method="post" action="/dashboard/delete">
    ${csrfField(csrf)}
    <label for="confirm-name">Type <strong>${host.hostname}</strong> to confirm</label>
    <input id="confirm-name" name="confirm" required autocomplete="off" spellcheck="false">
    <label for="delete-password">Password</label>
    <input id="delete-password" name="password" type="password" required autocomplete="current-password">
    <button type="submit" class="danger">Delete ${host.hostname}</button>
  </form>
</section>`;
}

export function messagePage(title: string, text: string, link: { href: string; label: string }): SafeHtml {
  return html`<section class="narrow"><h1>${title}</h1><p>${text}</p><p><a class="button" href="${link.href}">${link.label}</a></p></section>`;
}

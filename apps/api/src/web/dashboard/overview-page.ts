import type { HistoryView, HostView } from '../../hosts/hosts-service.ts';
import { html, type SafeHtml } from '../html.ts';
import { dashboardFrame, when } from './frame.ts';

export interface OverviewData {
  /** Where the host's pages are: '' (/dashboard…) or an account's /account/hosts/<hostname>. */
  readonly base?: string;
  readonly host: HostView;
  readonly inactivityDays: number;
  readonly tokenCount: number;
  readonly latest: HistoryView | undefined;
  readonly notice?: string;
  readonly now: Date;
}

function dormancy(data: OverviewData): SafeHtml {
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

export function overviewPage(data: OverviewData): SafeHtml {
  const base = data.base ?? '';
  const { host, now } = data;
  const mail = host.mail;
  return dashboardFrame(
    host.hostname,
    'overview',
    undefined,
    html`${data.notice ? html`<p class="alert ok" role="status">${data.notice}</p>` : ''}
<section class="card" aria-labelledby="address-title">
  <h2 id="address-title">Your address</h2>
  <dl class="facts">
    <dt>IPv4</dt><dd data-testid="ipv4">${host.ipv4 ?? '—'}</dd>
    <dt>IPv6</dt><dd data-testid="ipv6">${host.ipv6 ?? '—'}</dd>
    <dt>Last change</dt><dd>${when(host.updatedAt, now)}</dd>
    <dt>Last update</dt><dd>${when(host.lastSeenAt, now)}</dd>
    <dt>Status</dt><dd>${dormancy(data)}</dd>
  </dl>
  ${
    host.lastSeenAt === null
      ? html`<p class="next"><strong>Next step:</strong> <a href="${base}/dashboard/setups">set up your router or a script</a>.
        Your hostname gets an address with its first update.</p>`
      : ''
  }
</section>
<section class="grid" aria-label="Your hostname at a glance">
  <a class="card tile" href="${base}/dashboard/setups"><h2>Setups</h2>
    <p>Ready-to-paste settings for routers, cron, Windows, ddclient, inadyn and certificates.</p></a>
  <a class="card tile" href="${base}/dashboard/tokens"><h2>Tokens</h2>
    <p>${data.tokenCount === 0 ? 'No update tokens yet.' : `${data.tokenCount} update token${data.tokenCount === 1 ? '' : 's'}.`}</p></a>
  <a class="card tile" href="${base}/dashboard/history"><h2>History</h2>
    <p>${data.latest ? html`Last: <code>${data.latest.result}</code> from ${data.latest.sourceAddress}, ${when(data.latest.lastAt ?? data.latest.at, now)}.` : 'No updates yet.'}</p></a>
  <a class="card tile" href="${base}/dashboard/mail"><h2>Mail</h2>
    <p>${mail.enabled ? `Forwarding to port ${mail.port ?? '?'} of your address.` : 'Forwarding is off.'}</p></a>
</section>`,
    base,
  );
}

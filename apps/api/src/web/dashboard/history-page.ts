import type { HistoryView } from '../../hosts/hosts-service.ts';
import { html, type SafeHtml } from '../html.ts';
import { dashboardFrame, when } from './frame.ts';

export interface HistoryData {
  /** Where the host's pages are: '' (/dashboard…) or an account's /account/hosts/<hostname>. */
  readonly base?: string;
  readonly hostname: string;
  readonly history: readonly HistoryView[];
  readonly now: Date;
}

/** Past this, a user agent is cut, with the whole of it one click (or a hover) away. */
const AGENT_SHOWN = 32;

function agent(text: string | null): SafeHtml {
  if (!text) return html`<span class="help">—</span>`;
  if (text.length <= AGENT_SHOWN) return html`${text}`;
  return html`<details class="agent"><summary title="${text}">${text.slice(0, AGENT_SHOWN - 1)}…</summary><span>${text}</span></details>`;
}

/** IPv4 and IPv6 on lines of their own, so a phone breaks an IPv6 address only when it must. */
const addresses = (pair: HistoryView['old']) => {
  const list = [pair.ipv4, pair.ipv6].filter((a): a is string => Boolean(a));
  return list.length === 0 ? html`—` : html`${list.map((a, i) => (i === 0 ? a : html`<br>${a}`))}`;
};

/** The addresses before and after (the old ones above, muted), or just the addresses when nothing changed. */
function change(entry: HistoryView): SafeHtml {
  const same = entry.old.ipv4 === entry.new.ipv4 && entry.old.ipv6 === entry.new.ipv6;
  if (same) return html`<div class="change">${addresses(entry.new)}</div>`;
  return html`<div class="change"><span class="was">${addresses(entry.old)}</span><span class="now"><span class="arrow" aria-hidden="true">→</span><span class="sr-only">changed to</span><span>${addresses(entry.new)}</span></span></div>`;
}

/**
 * A table on a wide screen; on a phone each entry becomes a card of its own
 * (style.css), every value labelled by its column's name (data-label).
 */
export function historyPage(data: HistoryData): SafeHtml {
  const base = data.base ?? '';
  const { now } = data;
  return dashboardFrame(
    data.hostname,
    'history',
    'Update history',
    html`<p>The latest update attempts, newest first. Repeated identical attempts are counted on one line.</p>
${
  data.history.length === 0
    ? html`<section class="card"><p>No updates yet. <a href="${base}/dashboard/setups">Set up an updater</a>: its first call appears here.</p></section>`
    : html`<table class="history" data-testid="history">
  <thead><tr><th scope="col">When</th><th scope="col">Result</th><th scope="col">Address</th><th scope="col">From</th><th scope="col">Client</th></tr></thead>
  <tbody>${data.history.map(
    (entry) => html`<tr>
    <td data-label="When"><div>${when(entry.lastAt ?? entry.at, now)}${entry.count > 1 ? html` <span class="help">×${entry.count} since ${when(entry.at, now)}</span>` : ''}</div></td>
    <td data-label="Result"><div><code>${entry.result}</code>${entry.reason ? html`<span class="reason">${entry.reason}</span>` : ''}</div></td>
    <td data-label="Address" class="address">${change(entry)}</td>
    <td data-label="From" class="address"><div>${entry.sourceAddress}</div></td>
    <td data-label="Client" class="agent"><div>${agent(entry.userAgent)}</div></td>
  </tr>`,
  )}</tbody></table>`
}`,
    base,
  );
}

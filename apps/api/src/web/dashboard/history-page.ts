import type { HistoryView } from '../../hosts/hosts-service.ts';
import { html, type SafeHtml } from '../html.ts';
import { dashboardFrame, when } from './frame.ts';

export interface HistoryData {
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

const addresses = (pair: HistoryView['old']) => [pair.ipv4, pair.ipv6].filter(Boolean).join(', ') || '—';

/**
 * A table on a wide screen; on a phone each entry becomes a card of its own
 * (style.css), every value labelled by its column's name (data-label).
 */
export function historyPage(data: HistoryData): SafeHtml {
  const { now } = data;
  return dashboardFrame(
    data.hostname,
    'history',
    'Update history',
    html`<p>The latest update attempts, newest first. Repeated identical attempts are counted on one line.</p>
${
  data.history.length === 0
    ? html`<section class="card"><p>No updates yet. <a href="/dashboard/setups">Set up an updater</a>: its first call appears here.</p></section>`
    : html`<table class="history" data-testid="history">
  <thead><tr><th scope="col">When</th><th scope="col">Result</th><th scope="col">Address</th><th scope="col">From</th><th scope="col">Client</th></tr></thead>
  <tbody>${data.history.map(
    (entry) => html`<tr>
    <td data-label="When">${when(entry.lastAt ?? entry.at, now)}${entry.count > 1 ? html` <span class="help">×${entry.count} since ${when(entry.at, now)}</span>` : ''}</td>
    <td data-label="Result"><code>${entry.result}</code></td>
    <td data-label="Address" class="address">${addresses(entry.old)} → ${addresses(entry.new)}</td>
    <td data-label="From" class="address">${entry.sourceAddress}</td>
    <td data-label="Client" class="agent">${agent(entry.userAgent)}</td>
  </tr>`,
  )}</tbody></table>`
}`,
  );
}

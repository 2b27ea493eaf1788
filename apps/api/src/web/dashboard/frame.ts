import { html, type SafeHtml } from '../html.ts';

/**
 * The dashboard's pages share a heading and a tab bar: plain links (they
 * work without JavaScript), the current one marked with aria-current so both
 * a screen reader and the stylesheet know where the person is.
 */

export const TABS = [
  { id: 'overview', href: '/dashboard', label: 'Overview' },
  { id: 'setups', href: '/dashboard/setups', label: 'Setups' },
  { id: 'records', href: '/dashboard/records', label: 'Records' },
  { id: 'tokens', href: '/dashboard/tokens', label: 'Tokens' },
  { id: 'history', href: '/dashboard/history', label: 'History' },
  { id: 'mail', href: '/dashboard/mail', label: 'Mail' },
  { id: 'settings', href: '/dashboard/settings', label: 'Settings' },
] as const;

/** Where an account's host has its dashboard: /account/hosts/<hostname>/dashboard…. */
export function accountHostBase(hostname: string): string {
  return `/account/hosts/${hostname}`;
}

export type TabId = (typeof TABS)[number]['id'];

/** A hostname that a narrow screen may wrap after a dot, never inside a label. */
export function breakable(hostname: string): SafeHtml {
  return html`${hostname.split('.').map((label, i) => (i === 0 ? label : html`.<wbr>${label}`))}`;
}

/**
 * One dashboard page: the hostname, the tabs, then the page's own heading
 * (none: the hostname is the heading) and content.
 */
export function dashboardFrame(
  hostname: string,
  current: TabId,
  heading: string | undefined,
  body: SafeHtml,
  base = '',
): SafeHtml {
  return html`${base === '' ? '' : html`<p class="context"><a href="/account">Your account</a> ›</p>`}
${heading === undefined ? '' : html`<p class="context">${breakable(hostname)}</p>`}
${tabBar(TABS, current, 'Dashboard', base)}
<h1>${heading ?? breakable(hostname)}</h1>
${body}`;
}

/** A row of tabs (the dashboard's, the account's): links under `base`, the current one marked. */
export function tabBar(
  tabs: readonly { readonly id: string; readonly href: string; readonly label: string }[],
  current: string,
  label: string,
  base = '',
  /** `paired`: two to a row on a phone (longer labels than the dashboard's). */
  layout: 'thirds' | 'paired' = 'thirds',
): SafeHtml {
  return html`<nav class="${layout === 'paired' ? 'tabs paired' : 'tabs'}" aria-label="${label}">
  <ul>${tabs.map(
    (tab) =>
      html`<li>${
        tab.id === current
          ? html`<a href="${base}${tab.href}" aria-current="page">${tab.label}</a>`
          : html`<a href="${base}${tab.href}">${tab.label}</a>`
      }</li>`,
  )}</ul>
</nav>`;
}

/** A time as "5 min ago", with the exact time in a title and a datetime attribute. */
export function when(iso: string | null, now: Date): SafeHtml {
  if (!iso) return html`never`;
  const minutes = Math.round((now.getTime() - Date.parse(iso)) / 60_000);
  const relative =
    minutes < 1
      ? 'just now'
      : minutes < 60
        ? `${minutes} min ago`
        : minutes < 2880
          ? `${Math.round(minutes / 60)} h ago`
          : `${Math.round(minutes / 1440)} days ago`;
  return html`<time datetime="${iso}" title="${iso}">${relative}</time>`;
}

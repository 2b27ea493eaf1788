/**
 * Where a webhook may point (README "Webhooks"). The owner chooses the URL
 * and MyDNS makes the request, so a target must not reach the operator's own
 * network: every address its name resolves to is checked against the
 * special-purpose ranges (RFC 6890, with the IPv4 inside IPv6 forms decoded,
 * as the relay does: packages/domain special-addresses.ts), at PATCH time and
 * again before each delivery, and the delivery connects to the address that
 * was checked (a rebinding DNS gets no second lookup to swap it).
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { parseIpAddress, specialAddressReason } from '@mydns/domain';

export const MAX_WEBHOOK_URL_LENGTH = 2048;

/** The names' addresses: node's resolver in production, a table in unit tests. */
export type ResolveAddresses = (hostname: string) => Promise<string[]>;

export const resolveWithSystem: ResolveAddresses = async (hostname) =>
  (await dnsLookup(hostname, { all: true, verbatim: true })).map((entry) => entry.address);

export type UrlCheck =
  | { readonly ok: true; readonly url: URL }
  | { readonly ok: false; readonly reason: string };

/** An http(s) URL without credentials. Pure. */
export function checkWebhookUrl(input: unknown): UrlCheck {
  if (typeof input !== 'string' || input.length === 0) return { ok: false, reason: 'the webhook is a URL' };
  if (input.length > MAX_WEBHOOK_URL_LENGTH)
    return { ok: false, reason: `the webhook URL is longer than ${MAX_WEBHOOK_URL_LENGTH} characters` };
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return { ok: false, reason: 'the webhook is not a URL' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return { ok: false, reason: 'the webhook is an http:// or https:// URL' };
  // Credentials would sit in Postgres and in every request; the signature is the credential.
  if (url.username !== '' || url.password !== '')
    return { ok: false, reason: 'the webhook URL has no user or password in it' };
  if (hostOf(url) === '') return { ok: false, reason: 'the webhook URL names no host' };
  return { ok: true, url };
}

/** The URL's host without IPv6 brackets. */
export function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

/** The URL as logs may show it: no query string, no fragment. */
export function urlForLog(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  } catch {
    return '(not a URL)';
  }
}

/** Why a delivery must not connect to `address`, or undefined when it may. Pure. */
export function refusedAddressReason(address: string, allowPrivate: boolean): string | undefined {
  const parsed = parseIpAddress(address);
  if (!parsed) return `${address} is not an address`;
  if (allowPrivate) return undefined;
  const reason = specialAddressReason(parsed);
  return reason ? `${parsed.text} is ${reason}` : undefined;
}

export type TargetCheck =
  | { readonly ok: true; readonly address: string }
  | { readonly ok: false; readonly reason: string; readonly unresolved?: true };

/**
 * The address to connect to for `url`: its literal address, or what its name
 * resolves to now, every one of which must be allowed (one private answer
 * among public ones is refused: the next lookup might pick it).
 */
export async function resolveTarget(
  url: URL,
  options: { resolve: ResolveAddresses; allowPrivate: boolean },
): Promise<TargetCheck> {
  const host = hostOf(url);
  let addresses: string[];
  if (parseIpAddress(host)) addresses = [host];
  else {
    try {
      addresses = await options.resolve(host);
    } catch {
      return { ok: false, reason: `${host} does not resolve`, unresolved: true };
    }
  }
  if (addresses.length === 0) return { ok: false, reason: `${host} does not resolve`, unresolved: true };
  for (const address of addresses) {
    const reason = refusedAddressReason(address, options.allowPrivate);
    if (reason) return { ok: false, reason };
  }
  return { ok: true, address: addresses[0] as string };
}

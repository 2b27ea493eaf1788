/**
 * MYDNS_MAIL_URL, the smarthost (README "Mail"). Pure.
 *
 *   smtp://host[:port]              port 587 by default; STARTTLS when offered
 *   smtps://host[:port]             port 465 by default; TLS from the first byte (RFC 8314)
 *   smtp://user:pass@host:587       AUTH PLAIN or LOGIN; user and password URL-decoded
 *   …?tls=verify                    the default: the certificate must be valid for the host
 *   …?tls=no-verify                 TLS, any certificate (a self-signed smarthost, labs, tests)
 *   …?tls=none                      never TLS (smtp:// only: a smarthost on this machine)
 *
 * No message names the URL or any part of it but the host: it holds a password.
 */
import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';
import { isValidHostname } from '@mydns/domain';
import type { SubmissionTls } from '@mydns/smtp-client';

export interface MailUrl {
  readonly host: string;
  readonly port: number;
  readonly security: 'starttls' | 'implicit';
  readonly tls: SubmissionTls;
  readonly credentials: { readonly user: string; readonly pass: string } | undefined;
}

export type MailUrlParse = { ok: true; url: MailUrl } | { ok: false; problem: string };

const TLS_MODES: readonly SubmissionTls[] = ['verify', 'no-verify', 'none'];

/**
 * smtp:// is not a "special" scheme to WHATWG URL, so its host comes back
 * as written (percent-encoded, any case); IPv6 literals keep their brackets,
 * which node:net does not want.
 */
function hostOf(hostname: string): string | undefined {
  const literal = /^\[(.*)\]$/.exec(hostname)?.[1];
  if (literal !== undefined) return isIP(literal) === 6 ? literal : undefined;
  let name: string;
  try {
    name = domainToASCII(decodeURIComponent(hostname)).toLowerCase();
  } catch {
    return undefined;
  }
  return isIP(name) === 4 || (name !== '' && isValidHostname(name)) ? name : undefined;
}

export function parseMailUrl(text: string): MailUrlParse {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    return { ok: false, problem: 'is not a URL like smtp://host:587 or smtps://user:pass@host:465' };
  }
  const scheme = url.protocol.replace(/:$/, '').toLowerCase();
  if (scheme !== 'smtp' && scheme !== 'smtps')
    return { ok: false, problem: 'must start with smtp:// or smtps://' };
  const host = hostOf(url.hostname);
  if (host === undefined) return { ok: false, problem: 'names no host, or not a valid host name' };
  if (url.pathname !== '' && url.pathname !== '/') return { ok: false, problem: 'must not have a path' };
  if (url.hash !== '') return { ok: false, problem: 'must not have a #fragment' };
  let tls: SubmissionTls = 'verify';
  for (const [key, value] of url.searchParams) {
    if (key !== 'tls') return { ok: false, problem: `has an unknown option "${key}" (only tls=)` };
    if (!TLS_MODES.includes(value as SubmissionTls))
      return { ok: false, problem: 'has tls= other than verify, no-verify or none' };
    tls = value as SubmissionTls;
  }
  if (scheme === 'smtps' && tls === 'none')
    return { ok: false, problem: 'cannot be smtps:// with tls=none (smtps is TLS from the start)' };
  let credentials: MailUrl['credentials'];
  if (url.username !== '' || url.password !== '') {
    try {
      credentials = { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) };
    } catch {
      return { ok: false, problem: 'has a user or password that is not properly %-encoded' };
    }
    if (credentials.user === '') return { ok: false, problem: 'has a password but no user name' };
  }
  return {
    ok: true,
    url: {
      host,
      port: url.port === '' ? (scheme === 'smtps' ? 465 : 587) : Number(url.port),
      security: scheme === 'smtps' ? 'implicit' : 'starttls',
      tls,
      credentials,
    },
  };
}

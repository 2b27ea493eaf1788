/**
 * E-mail addresses as the outbound mail takes them. Pure.
 *
 * Deliberately narrow, because every address ends up in an SMTP command and
 * a header: a dot-atom local part (RFC 5322 §3.4.1, no quoted strings, no
 * comments, ASCII only: no SMTPUTF8 needed anywhere), and a domain in its
 * ASCII form (UTS #46 through node's domainToASCII, as the relay routes:
 * `bücher.example` → `xn--bcher-kva.example`).
 */
import { createHash } from 'node:crypto';
import { domainToASCII } from 'node:url';
import { isValidHostname } from '@mydns/domain';

export interface Mailbox {
  /** The display name (any Unicode; encoded where it goes into a header). */
  readonly name: string | undefined;
  readonly address: string;
}

const ATEXT = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+";
const DOT_ATOM = new RegExp(`^${ATEXT}(?:\\.${ATEXT})*$`);

/**
 * `Alice@Bücher.Example` → `Alice@xn--bcher-kva.example` (the local part as
 * written: only its server may decide whether case matters); undefined when it
 * is not an address we send to.
 */
export function normaliseAddress(input: string): string | undefined {
  const text = input.trim();
  if (text.length > 320) return undefined;
  const at = text.lastIndexOf('@');
  if (at <= 0) return undefined;
  const local = text.slice(0, at);
  const domain = domainToASCII(text.slice(at + 1)).toLowerCase();
  if (local.length > 64 || !DOT_ATOM.test(local)) return undefined;
  if (domain === '' || !domain.includes('.') || !isValidHostname(domain)) return undefined;
  const address = `${local}@${domain}`;
  // RFC 5321 §4.5.3.1.3: a path holds at most 256 octets, its brackets included.
  return address.length <= 254 ? address : undefined;
}

/**
 * `MyDNS <no-reply@dyn.example.net>`, `"Dyn, Inc." <a@b.example>` or a bare
 * address; undefined when it is none of these.
 */
export function parseMailbox(input: string): Mailbox | undefined {
  const text = input.trim();
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\u0000-\u001f\u007f]/.test(text)) return undefined;
  const angle = /^(.*?)\s*<([^<>]+)>$/.exec(text);
  if (!angle) {
    const address = normaliseAddress(text);
    return address ? { name: undefined, address } : undefined;
  }
  const address = normaliseAddress(angle[2] ?? '');
  if (!address) return undefined;
  let name = (angle[1] ?? '').trim();
  if (name.startsWith('"') && name.endsWith('"') && name.length >= 2)
    name = name.slice(1, -1).replace(/\\(.)/g, '$1');
  else if (/[<>"]/.test(name)) return undefined;
  return { name: name === '' ? undefined : name, address };
}

export function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}

/**
 * What a log line may say about a recipient: the domain, and a short hash
 * that tells two recipients apart (the same address always gives the same
 * one) without naming them.
 */
export function recipientForLog(address: string): { domain: string; recipient: string } {
  const hash = createHash('sha256').update(address.toLowerCase()).digest('hex').slice(0, 12);
  return { domain: domainOf(address), recipient: hash };
}

/**
 * A server's reply text may quote the recipient (`550 5.1.1 <bob@example.org>:
 * unknown user`): before it reaches a log or the outbox's last error, every
 * address in it keeps only its domain.
 */
export function redactAddresses(text: string): string {
  return text.replace(/[^\s<>"'(),;:]+@([A-Za-z0-9.-]+)/g, '…@$1');
}

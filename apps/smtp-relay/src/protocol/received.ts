/**
 * The one trace header the relay adds (RFC 5321 §4.4, RFC 3848 protocol
 * names). Pure. It carries the client's TLS state, which XCLIENT cannot pass
 * on, and it is prepended, so DKIM signatures stay intact.
 */
import type { IpAddress } from '@mydns/domain';

export interface ReceivedInfo {
  /** The client's HELO/EHLO argument (already checked: printable, no spaces). */
  readonly helo: string | undefined;
  readonly client: IpAddress;
  /** Our name, as in the greeting. */
  readonly hostname: string;
  readonly esmtp: boolean;
  readonly tls: { readonly version: string; readonly cipher: string } | undefined;
  readonly id: string;
  readonly date: Date;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** RFC 5322 date-time in UTC: `Thu, 27 Nov 2026 08:00:00 +0000`. */
export function formatMailDate(date: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return (
    `${DAYS[date.getUTCDay()]}, ${date.getUTCDate()} ${MONTHS[date.getUTCMonth()]} ${date.getUTCFullYear()} ` +
    `${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())} +0000`
  );
}

/** A HELO name as it may appear in a header: printable ASCII without parentheses, else `unknown`. */
function safeHelo(helo: string | undefined): string {
  if (!helo || !/^[\x21-\x27\x2a-\x7e]{1,255}$/.test(helo)) return 'unknown';
  return helo;
}

export function formatReceived(info: ReceivedInfo): string {
  const literal = info.client.family === 6 ? `IPv6:${info.client.text}` : info.client.text;
  const protocol = `${info.esmtp ? 'ESMTP' : 'SMTP'}${info.tls ? 'S' : ''}`;
  const lines = [
    `Received: from ${safeHelo(info.helo)} (unknown [${literal}])`,
    `\tby ${info.hostname} (MyDNS relay) with ${protocol} id ${info.id}`,
  ];
  if (info.tls) lines.push(`\t(using ${info.tls.version} with cipher ${info.tls.cipher})`);
  lines[lines.length - 1] += ';';
  lines.push(`\t${formatMailDate(info.date)}`);
  return `${lines.join('\r\n')}\r\n`;
}

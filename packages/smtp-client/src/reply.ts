/**
 * SMTP replies (RFC 5321 §4.2): their shape, the formatting of our own, and
 * the parsing of a server's. Pure.
 */

export interface Reply {
  readonly code: number;
  /** One entry per line, without the code and without CRLF. */
  readonly lines: readonly string[];
}

export function reply(code: number, ...lines: string[]): Reply {
  return { code, lines: lines.length > 0 ? lines : [''] };
}

/** `250-first\r\n250-second\r\n250 last\r\n` */
export function formatReply(r: Reply): string {
  const last = r.lines.length - 1;
  const lines = r.lines.map((line, i) => `${r.code}${i === last ? ' ' : '-'}${line}`.trimEnd());
  return `${lines.join('\r\n')}\r\n`;
}

export const isPositive = (r: Reply) => r.code >= 200 && r.code < 400;

/** Limits on what a server may send us (a reply is read into memory whole). */
export interface ReplyLimits {
  readonly maxLineLength: number;
  readonly maxLines: number;
}

/** RFC 5321 §4.5.3.1.5 allows 512 octets per reply line; a few servers send longer EHLO lines. */
export const DEFAULT_REPLY_LIMITS: ReplyLimits = { maxLineLength: 4096, maxLines: 100 };

export type ReplyParse =
  | { readonly kind: 'reply'; readonly reply: Reply; readonly consumed: number }
  | { readonly kind: 'incomplete' }
  | { readonly kind: 'malformed'; readonly reason: string };

const REPLY_LINE = /^([2-5][0-9][0-9])([ -]|$)(.*)$/s;

/**
 * Takes one complete reply from the front of `buffer` (a server's output).
 * Lines end at LF (a CR before it is dropped). Every line must carry the same
 * 3-digit code, first digit 2–5; the last has a space (or nothing) after it.
 * Control characters in the text are removed (a relay passes texts on).
 */
export function parseReply(buffer: Buffer, limits: ReplyLimits): ReplyParse {
  const lines: string[] = [];
  let offset = 0;
  let code: string | undefined;
  while (offset < buffer.length) {
    const lf = buffer.indexOf(10, offset);
    if (lf === -1) {
      if (buffer.length - offset > limits.maxLineLength)
        return { kind: 'malformed', reason: 'reply line too long' };
      return { kind: 'incomplete' };
    }
    if (lf - offset > limits.maxLineLength) return { kind: 'malformed', reason: 'reply line too long' };
    let end = lf;
    if (end > offset && buffer[end - 1] === 13) end--;
    const text = buffer.toString('latin1', offset, end);
    offset = lf + 1;
    const match = REPLY_LINE.exec(text);
    if (!match) return { kind: 'malformed', reason: 'not an SMTP reply' };
    const [, lineCode, separator, rest] = match;
    if (code !== undefined && lineCode !== code) return { kind: 'malformed', reason: 'reply codes differ' };
    code = lineCode;
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is removed
    lines.push((rest ?? '').replace(/[\u0000-\u001f\u007f]/g, ''));
    if (lines.length > limits.maxLines) return { kind: 'malformed', reason: 'too many reply lines' };
    if (separator !== '-') return { kind: 'reply', reply: { code: Number(code), lines }, consumed: offset };
  }
  return { kind: 'incomplete' };
}

/** EHLO keywords of a reply (its first line is the server's name): `SIZE 1000` → `SIZE` → `['1000']`. */
export function parseExtensions(r: Reply): Map<string, string[]> {
  const extensions = new Map<string, string[]>();
  for (const line of r.lines.slice(1)) {
    const [keyword, ...params] = line.trim().split(/\s+/);
    if (keyword) extensions.set(keyword.toUpperCase(), params);
  }
  return extensions;
}

/** The domain a server names first in its greeting or EHLO reply. */
export function replyDomain(r: Reply): string {
  return (r.lines[0] ?? '').trim().split(/\s+/)[0]?.toLowerCase() ?? '';
}

/** An enhanced status code (RFC 3463): `5.1.1` → class 5, subject 1, detail 1. */
export interface EnhancedStatus {
  readonly class: 2 | 4 | 5;
  readonly subject: number;
  readonly detail: number;
  /** `5.1.1` */
  readonly text: string;
}

const ENHANCED = /^([245])\.([0-9]{1,3})\.([0-9]{1,3})(?=\s|$)/;

/**
 * The enhanced status code at the start of a reply's first line (RFC 2034
 * puts it on every line; the first is enough), or undefined. Its class must
 * agree with the reply code's first digit, else it is not believed.
 */
export function enhancedStatus(r: Reply): EnhancedStatus | undefined {
  const match = ENHANCED.exec(r.lines[0] ?? '');
  if (!match?.[1] || !match[2] || !match[3]) return undefined;
  const statusClass = Number(match[1]) as 2 | 4 | 5;
  if (statusClass !== Math.floor(r.code / 100)) return undefined;
  return {
    class: statusClass,
    subject: Number(match[2]),
    detail: Number(match[3]),
    text: `${match[1]}.${match[2]}.${match[3]}`,
  };
}

/** One line for a log or an error: `550 5.1.1 no such user` (long texts cut). */
export function describeReply(r: Reply, maxLength = 200): string {
  const text = `${r.code} ${r.lines.join(' / ')}`.trim();
  return text.length > maxLength ? `${text.slice(0, maxLength)}…` : text;
}

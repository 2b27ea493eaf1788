/**
 * The messages MyDNS sends, as RFC 5322 text. Pure (randomness and the clock
 * come in as arguments).
 *
 * - Headers: From, To, Subject, Date, Message-ID (under the sender's
 *   domain), MIME-Version, and Auto-Submitted (RFC 3834: no auto-replies to
 *   machine mail). Text that is not plain ASCII goes into RFC 2047 encoded
 *   words; a CR or LF (or any control character) in a header value is
 *   refused, never cleaned up: it would let a value start headers of its own.
 * - Body: multipart/alternative (RFC 2046 §5.1.4) with text/plain first and
 *   text/html last (the richest last), each in UTF-8, in 7bit when it is
 *   ASCII with short lines, else quoted-printable (RFC 2045 §6.7).
 * - Every line ends CRLF and is at most 998 octets (RFC 5322 §2.1.1); the
 *   whole message is 7-bit ASCII, so no server needs 8BITMIME or SMTPUTF8.
 */
import { domainOf, type Mailbox } from './addresses.ts';

export interface MessageInput {
  readonly from: Mailbox;
  /** A normalised address (addresses.ts). */
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  readonly html: string;
  readonly date: Date;
  /** Hex; fresh for every message (the Message-ID and the MIME boundary come from it). */
  readonly random: () => string;
}

export interface BuiltMessage {
  /** `<…@sender.domain>` */
  readonly messageId: string;
  /** The whole message, CRLF lines, ready for encodeData. */
  readonly data: string;
}

export class MailInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MailInputError';
  }
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f]/;

/** A value that goes into a header: CR, LF and other control characters are refused. */
function checkHeaderValue(name: string, value: string): void {
  if (CONTROL.test(value)) throw new MailInputError(`the ${name} holds a line break or a control character`);
}

export function buildMessage(input: MessageInput): BuiltMessage {
  checkHeaderValue('subject', input.subject);
  checkHeaderValue('sender name', input.from.name ?? '');
  checkHeaderValue('recipient', input.to);
  checkHeaderValue('sender', input.from.address);
  const messageId = `<${input.random()}@${domainOf(input.from.address)}>`;
  const text = encodePart(input.text);
  const html = encodePart(input.html);
  let boundary = `=_mydns_${input.random()}`;
  // "=_" never occurs in quoted-printable or base64; a 7bit part could hold it, so check.
  while (text.body.includes(boundary) || html.body.includes(boundary)) boundary = `=_mydns_${input.random()}`;
  const headers = [
    foldHeader('From', formatMailbox(input.from)),
    foldHeader('To', input.to),
    foldHeader('Subject', encodeWords(input.subject)),
    `Date: ${formatDate(input.date)}`,
    `Message-ID: ${messageId}`,
    'MIME-Version: 1.0',
    'Auto-Submitted: auto-generated',
    `Content-Type: multipart/alternative; boundary="${boundary}"`,
  ];
  const part = (type: string, encoded: EncodedPart) =>
    [
      `--${boundary}`,
      `Content-Type: ${type}; charset=utf-8`,
      `Content-Transfer-Encoding: ${encoded.encoding}`,
      '',
      encoded.body,
    ].join('\r\n');
  const data = [
    ...headers,
    '',
    'This is a multi-part message in MIME format.',
    part('text/plain', text),
    part('text/html', html),
    `--${boundary}--`,
    '',
  ].join('\r\n');
  return { messageId, data };
}

/** RFC 5322 §3.3: `Tue, 01 Dec 2026 09:00:00 +0000` (UTC; "GMT" is the obsolete form). */
export function formatDate(date: Date): string {
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const two = (n: number) => String(n).padStart(2, '0');
  return (
    `${days[date.getUTCDay()]}, ${two(date.getUTCDate())} ${months[date.getUTCMonth()]} ${date.getUTCFullYear()} ` +
    `${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())} +0000`
  );
}

const PHRASE_ATOMS = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]+$/;

/** `Name <address>`: the name as atoms, a quoted string, or encoded words (RFC 2047 §5 (3)). */
export function formatMailbox(mailbox: Mailbox): string {
  const name = mailbox.name?.trim();
  if (!name) return mailbox.address;
  let phrase: string;
  if (PHRASE_ATOMS.test(name) && !name.includes('=?')) phrase = name;
  else if (/^[\x20-\x7e]+$/.test(name) && !name.includes('=?'))
    phrase = `"${name.replace(/(["\\])/g, '\\$1')}"`;
  else phrase = encodeWords(name, { always: true });
  return `${phrase} <${mailbox.address}>`;
}

/**
 * A header text as is when it is short printable ASCII, otherwise as UTF-8
 * `B` encoded words (RFC 2047 §4.1), each at most 75 characters and never
 * splitting a character, separated by folding white space (which decoders
 * drop between encoded words, §6.2).
 */
export function encodeWords(text: string, options: { always?: boolean } = {}): string {
  const plain = /^[\x20-\x7e]*$/.test(text) && !text.includes('=?') && text.length <= 900;
  if (plain && !options.always) return text;
  const words: string[] = [];
  let chunk = '';
  let bytes = 0;
  // 45 bytes of UTF-8 are 60 base64 characters: with "=?UTF-8?B?" and "?=", 72 ≤ 75.
  for (const char of text) {
    const size = Buffer.byteLength(char, 'utf8');
    if (bytes + size > 45) {
      words.push(chunk);
      chunk = '';
      bytes = 0;
    }
    chunk += char;
    bytes += size;
  }
  if (chunk !== '' || words.length === 0) words.push(chunk);
  return words.map((word) => `=?UTF-8?B?${Buffer.from(word, 'utf8').toString('base64')}?=`).join('\r\n ');
}

/**
 * `Name: value`, folded (RFC 5322 §2.2.3) at spaces so lines stay near 78
 * characters; encoded words come folded already.
 */
function foldHeader(name: string, value: string): string {
  const line = `${name}: ${value}`;
  if (line.length <= 78 || value.includes('\r\n')) return line;
  const out: string[] = [];
  let current = '';
  for (const word of line.split(' ')) {
    if (current !== '' && current.length + 1 + word.length > 78) {
      out.push(current);
      current = ` ${word}`;
    } else {
      current = current === '' ? word : `${current} ${word}`;
    }
  }
  out.push(current);
  return out.join('\r\n');
}

interface EncodedPart {
  readonly encoding: '7bit' | 'quoted-printable';
  readonly body: string;
}

/** CRLF lines; 7bit when plain ASCII with lines of at most 998 octets, else quoted-printable. */
function encodePart(content: string): EncodedPart {
  const lines = content.replace(/\r\n|\r|\n/g, '\n').split('\n');
  const sevenBit = lines.every((line) => line.length <= 998 && !/[^\t\x20-\x7e]/.test(line));
  if (sevenBit) return { encoding: '7bit', body: lines.join('\r\n') };
  return { encoding: 'quoted-printable', body: lines.map(encodeQuotedPrintableLine).join('\r\n') };
}

const HEX = '0123456789ABCDEF';

/**
 * One line of text as quoted-printable lines of at most 76 characters (soft
 * breaks "=" between them). Also encoded for safety in transit: "=", a space
 * or tab at the end of a line, a "." or "From " starting a line.
 */
export function encodeQuotedPrintableLine(line: string): string {
  const bytes = Buffer.from(line, 'utf8');
  const tokens: string[] = [];
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] as number;
    const last = i === bytes.length - 1;
    const literal =
      ((b >= 33 && b <= 126 && b !== 61) || ((b === 32 || b === 9) && !last)) &&
      !(i === 0 && b === 46) &&
      !(i === 0 && b === 70 && line.startsWith('From '));
    tokens.push(literal ? String.fromCharCode(b) : `=${HEX[b >> 4]}${HEX[b & 15]}`);
  }
  const out: string[] = [];
  let current = '';
  for (const token of tokens) {
    // 75 + the soft break's "=" = 76.
    if (current.length + token.length > 75) {
      out.push(`${current}=`);
      current = '';
    }
    current += token;
  }
  out.push(current);
  return out.join('\r\n');
}

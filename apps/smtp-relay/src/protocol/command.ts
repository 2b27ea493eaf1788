/**
 * Command lines and envelope addresses. Pure. Lines are decoded as latin1 so
 * every byte survives: what we send to a backend is re-encoded from the parsed
 * parts, never the client's raw line, so nothing the client adds (a second
 * command, a CR) can ride along.
 */

export interface CommandLine {
  /** Upper-cased verb: `MAIL`, `EHLO` … */
  readonly verb: string;
  /** Everything after the verb and its space(s). */
  readonly args: string;
}

export type CommandParse =
  | { readonly kind: 'command'; readonly command: CommandLine }
  | { readonly kind: 'bad-characters' };

/** Splits a line (without its line end) into verb and arguments. Control characters other than TAB are refused. */
export function parseCommandLine(line: Buffer): CommandParse {
  const text = line.toString('latin1');
  // biome-ignore lint/suspicious/noControlCharactersInRegex: a bare CR or NUL inside a command is exactly what is refused
  if (/[\u0000-\u0008\u000a-\u001f\u007f]/.test(text)) return { kind: 'bad-characters' };
  const trimmed = text.replace(/^[ \t]+|[ \t]+$/g, '');
  const space = trimmed.search(/[ \t]/);
  const verb = (space === -1 ? trimmed : trimmed.slice(0, space)).toUpperCase();
  const args = space === -1 ? '' : trimmed.slice(space).replace(/^[ \t]+/, '');
  return { kind: 'command', command: { verb, args } };
}

export interface Mailbox {
  /** As the client wrote it (quotes kept), latin1. */
  readonly localPart: string;
  /** Lower-cased, without a trailing dot; `[…]` for an address literal. */
  readonly domain: string;
  /** Whether the address has bytes outside ASCII (needs SMTPUTF8). */
  readonly international: boolean;
}

export type PathParse =
  | {
      readonly kind: 'path';
      readonly mailbox: Mailbox | null;
      readonly sourceRoute: boolean;
      readonly params: string;
    }
  | { readonly kind: 'bad'; readonly reason: string };

const DOT_ATOM =
  /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\u00ff-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\u00ff-]+)*$/;
const QUOTED = /^"([\u0020-\u0021\u0023-\u005b\u005d-\u007e\u0080-\u00ff]|\\[\u0020-\u007e])*"$/;
const DOMAIN =
  /^[A-Za-z0-9\u0080-\u00ff]([A-Za-z0-9\u0080-\u00ff-]*[A-Za-z0-9\u0080-\u00ff])?(\.[A-Za-z0-9\u0080-\u00ff]([A-Za-z0-9\u0080-\u00ff-]*[A-Za-z0-9\u0080-\u00ff])?)*\.?$/;
const LITERAL = /^\[[^[\]\\\s]+\]$/;

/**
 * `FROM:<path> params` / `TO:<path> params` (RFC 5321 §4.1.2). A space after
 * the colon is tolerated (many clients send it). `<>` is the null path.
 * A source route (`<@a,@b:user@d>`) is reported, not followed.
 */
export function parsePath(args: string, keyword: 'FROM' | 'TO'): PathParse {
  const prefix = `${keyword}:`;
  if (args.slice(0, prefix.length).toUpperCase() !== prefix) return { kind: 'bad', reason: 'syntax' };
  const rest = args.slice(prefix.length).replace(/^ +/, '');
  if (!rest.startsWith('<')) return { kind: 'bad', reason: 'syntax' };
  // The path ends at the first `>` outside a quoted string.
  let end = -1;
  let quoted = false;
  for (let i = 1; i < rest.length; i++) {
    const c = rest[i];
    if (quoted && c === '\\') i++;
    else if (c === '"') quoted = !quoted;
    else if (!quoted && c === '>') {
      end = i;
      break;
    }
  }
  if (end === -1) return { kind: 'bad', reason: 'syntax' };
  let path = rest.slice(1, end);
  const params = rest.slice(end + 1);
  if (params !== '' && !params.startsWith(' ')) return { kind: 'bad', reason: 'syntax' };
  if (path.length > 256) return { kind: 'bad', reason: 'too long' };
  let sourceRoute = false;
  if (path.startsWith('@')) {
    const colon = path.indexOf(':');
    if (colon === -1) return { kind: 'bad', reason: 'syntax' };
    sourceRoute = true;
    path = path.slice(colon + 1);
  }
  if (path === '')
    return sourceRoute
      ? { kind: 'bad', reason: 'syntax' }
      : { kind: 'path', mailbox: null, sourceRoute, params: params.trim() };
  const mailbox = parseMailbox(path);
  if (!mailbox) return { kind: 'bad', reason: 'syntax' };
  return { kind: 'path', mailbox, sourceRoute, params: params.trim() };
}

function parseMailbox(path: string): Mailbox | undefined {
  let at = -1;
  let quoted = false;
  for (let i = 0; i < path.length; i++) {
    const c = path[i];
    if (quoted && c === '\\') i++;
    else if (c === '"') quoted = !quoted;
    else if (!quoted && c === '@') at = i;
  }
  if (at <= 0) return undefined;
  const localPart = path.slice(0, at);
  const domain = path.slice(at + 1);
  if (localPart.length > 64 || domain.length === 0 || domain.length > 255) return undefined;
  if (!DOT_ATOM.test(localPart) && !QUOTED.test(localPart)) return undefined;
  if (!DOMAIN.test(domain) && !LITERAL.test(domain)) return undefined;
  return {
    localPart,
    // ASCII only: lower-casing latin1 would change the bytes of a UTF-8 domain.
    domain: domain.replace(/[A-Z]/g, (c) => c.toLowerCase()).replace(/\.$/, ''),
    international: /[\u0080-\u00ff]/.test(path),
  };
}

/** Why a recipient's local part would let a lenient backend relay onward (percent hack, bang path, quoted `@`). */
export function relayTrick(mailbox: Mailbox): string | undefined {
  const local = mailbox.localPart;
  if (local.startsWith('"')) {
    if (/[@%!]/.test(local)) return 'quoted routing characters are not allowed';
    return undefined;
  }
  if (local.includes('%')) return '"%" routing is not allowed';
  if (local.includes('!')) return '"!" routing is not allowed';
  return undefined;
}

/** `<local@domain>` as it goes to a backend (`<>` for the null path). */
export function formatPath(mailbox: Mailbox | null): string {
  return mailbox ? `<${mailbox.localPart}@${mailbox.domain}>` : '<>';
}

export interface MailParameters {
  readonly size: number | undefined;
  readonly body: '7BIT' | '8BITMIME' | undefined;
  readonly smtputf8: boolean;
}

export type ParameterParse =
  | { readonly kind: 'ok'; readonly params: MailParameters }
  | { readonly kind: 'unsupported'; readonly name: string }
  | { readonly kind: 'bad'; readonly name: string };

/** MAIL parameters we advertise: SIZE (RFC 1870), BODY (RFC 6152), SMTPUTF8 (RFC 6531). Anything else is refused. */
export function parseMailParameters(text: string, options: { smtputf8: boolean }): ParameterParse {
  let size: number | undefined;
  let body: MailParameters['body'];
  let smtputf8 = false;
  for (const item of text.split(/ +/).filter(Boolean)) {
    const eq = item.indexOf('=');
    const name = (eq === -1 ? item : item.slice(0, eq)).toUpperCase();
    const value = eq === -1 ? undefined : item.slice(eq + 1);
    if (name === 'SIZE') {
      if (value === undefined || !/^[0-9]{1,20}$/.test(value)) return { kind: 'bad', name };
      size = Number(value);
    } else if (name === 'BODY') {
      const upper = value?.toUpperCase();
      if (upper !== '7BIT' && upper !== '8BITMIME') return { kind: 'bad', name };
      body = upper;
    } else if (name === 'SMTPUTF8' && options.smtputf8) {
      if (value !== undefined) return { kind: 'bad', name };
      smtputf8 = true;
    } else {
      return { kind: 'unsupported', name };
    }
  }
  return { kind: 'ok', params: { size, body, smtputf8 } };
}

/** The MAIL command a backend gets: only the parameters it advertised (docs/smtp-relay.md, "The session"). */
export function formatMailCommand(
  sender: Mailbox | null,
  params: MailParameters,
  backend: { size: boolean; eightBitMime: boolean; smtputf8: boolean },
): string {
  const parts = [`MAIL FROM:${formatPath(sender)}`];
  if (params.size !== undefined && backend.size) parts.push(`SIZE=${params.size}`);
  if (params.body !== undefined && backend.eightBitMime) parts.push(`BODY=${params.body}`);
  if (params.smtputf8 && backend.smtputf8) parts.push('SMTPUTF8');
  return parts.join(' ');
}

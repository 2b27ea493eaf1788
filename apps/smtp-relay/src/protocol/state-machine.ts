/**
 * The client side of a session as a state machine (docs/smtp-relay.md, "The session").
 * Pure: it parses each command line, checks order, syntax and the
 * per-session limits, and answers what it can answer alone. Whatever needs
 * the network (routing a recipient, the backend's DATA) comes back as a step
 * for session.ts, which reports the outcome with `recipientAccepted`,
 * `endTransaction` or `tlsStarted`.
 */

import { type Reply, reply } from '@mydns/smtp-client';
import {
  formatPath,
  type Mailbox,
  type MailParameters,
  parseCommandLine,
  parseMailParameters,
  parsePath,
  relayTrick,
} from './command.ts';
import { replies } from './replies.ts';

export interface StateOptions {
  /** Our name in the greeting and EHLO reply. */
  readonly hostname: string;
  readonly maxRecipients: number;
  readonly maxTransactions: number;
  readonly maxMessageSize: number;
  readonly smtputf8: boolean;
  /** A certificate is loaded, so STARTTLS can be offered (until TLS is on). */
  readonly tlsConfigured: boolean;
}

export type Phase = 'greeted' | 'ready' | 'mail';

export interface Transaction {
  readonly sender: Mailbox | null;
  readonly params: MailParameters;
  /** Recipients a backend accepted. */
  accepted: number;
  /** The host (its full name) every accepted recipient of this transaction routes to. */
  host: string | undefined;
}

export type Step =
  | { readonly kind: 'reply'; readonly reply: Reply; readonly close?: boolean }
  /** EHLO/HELO, which also ends any transaction (RFC 5321 §4.1.4). */
  | { readonly kind: 'helo'; readonly reply: Reply }
  | { readonly kind: 'mail'; readonly reply: Reply }
  | { readonly kind: 'rcpt'; readonly mailbox: Mailbox; readonly address: string }
  | { readonly kind: 'data' }
  | { readonly kind: 'rset' }
  | { readonly kind: 'starttls' }
  | { readonly kind: 'quit' };

const NOT_OFFERED = new Set([
  'EXPN',
  'ETRN',
  'TURN',
  'ATRN',
  'AUTH',
  'BDAT',
  'XCLIENT',
  'XFORWARD',
  'SAML',
  'SEND',
  'SOML',
]);

export class SessionState {
  readonly options: StateOptions;
  phase: Phase = 'greeted';
  helo: string | undefined;
  esmtp = false;
  tls = false;
  transaction: Transaction | undefined;
  transactions = 0;

  constructor(options: StateOptions) {
    this.options = options;
  }

  /** The EHLO keywords we offer (docs/smtp-relay.md, "The session"). */
  ehloReply(): Reply {
    const lines = [
      this.options.hostname,
      'PIPELINING',
      `SIZE ${this.options.maxMessageSize}`,
      '8BITMIME',
      'ENHANCEDSTATUSCODES',
    ];
    if (this.options.smtputf8) lines.push('SMTPUTF8');
    if (this.options.tlsConfigured && !this.tls) lines.push('STARTTLS');
    return reply(250, ...lines);
  }

  handle(line: Buffer): Step {
    const parsed = parseCommandLine(line);
    if (parsed.kind === 'bad-characters') return { kind: 'reply', reply: replies.badCharacters() };
    const { verb, args } = parsed.command;
    switch (verb) {
      case 'EHLO':
      case 'HELO':
        return this.#helo(verb, args);
      case 'MAIL':
        return this.#mail(args);
      case 'RCPT':
        return this.#rcpt(args);
      case 'DATA':
        if (this.phase === 'greeted') return { kind: 'reply', reply: replies.needHelo() };
        if (!this.transaction) return { kind: 'reply', reply: replies.needMail() };
        if (args !== '') return { kind: 'reply', reply: replies.syntax('DATA') };
        if (this.transaction.accepted === 0) return { kind: 'reply', reply: replies.noValidRecipients() };
        return { kind: 'data' };
      case 'RSET':
        if (args !== '') return { kind: 'reply', reply: replies.syntax('RSET') };
        return { kind: 'rset' };
      case 'NOOP':
        return { kind: 'reply', reply: replies.ok() };
      case 'VRFY':
        if (args === '') return { kind: 'reply', reply: replies.syntax('VRFY address') };
        return { kind: 'reply', reply: replies.vrfy() };
      case 'HELP':
        return { kind: 'reply', reply: replies.help() };
      case 'QUIT':
        return { kind: 'quit' };
      case 'STARTTLS':
        if (!this.options.tlsConfigured) return { kind: 'reply', reply: replies.notImplemented() };
        if (this.tls) return { kind: 'reply', reply: replies.tlsActive() };
        if (args !== '') return { kind: 'reply', reply: replies.syntax('STARTTLS') };
        if (this.transaction) return { kind: 'reply', reply: replies.tlsInTransaction() };
        return { kind: 'starttls' };
      default:
        if (NOT_OFFERED.has(verb)) return { kind: 'reply', reply: replies.notImplemented() };
        return { kind: 'reply', reply: replies.commandUnknown() };
    }
  }

  #helo(verb: 'EHLO' | 'HELO', args: string): Step {
    const name = args.split(/[ \t]+/)[0] ?? '';
    if (name === '' || name.length > 255) return { kind: 'reply', reply: replies.syntax(`${verb} hostname`) };
    this.helo = name;
    this.esmtp = verb === 'EHLO';
    this.phase = 'ready';
    this.transaction = undefined;
    // HELO gets no extensions (smtp-source speaks HELO).
    return { kind: 'helo', reply: verb === 'EHLO' ? this.ehloReply() : replies.helo(this.options.hostname) };
  }

  #mail(args: string): Step {
    if (this.phase === 'greeted') return { kind: 'reply', reply: replies.needHelo() };
    if (this.transaction) return { kind: 'reply', reply: replies.nestedMail() };
    const path = parsePath(args, 'FROM');
    if (path.kind === 'bad') return { kind: 'reply', reply: replies.badSender() };
    const params = parseMailParameters(path.params, { smtputf8: this.options.smtputf8 });
    if (params.kind === 'unsupported')
      return { kind: 'reply', reply: replies.unsupportedParameter(params.name) };
    if (params.kind === 'bad') return { kind: 'reply', reply: replies.badParameter(params.name) };
    if (path.mailbox?.international && !params.params.smtputf8) {
      return { kind: 'reply', reply: reply(553, '5.6.7 Non-ASCII sender address needs SMTPUTF8') };
    }
    if ((params.params.size ?? 0) > this.options.maxMessageSize) {
      return { kind: 'reply', reply: replies.messageTooBig() };
    }
    if (this.transactions >= this.options.maxTransactions) {
      return { kind: 'reply', reply: replies.tooManyTransactions(this.options.hostname), close: true };
    }
    this.transactions++;
    // A source route in MAIL is ignored (RFC 5321 Appendix C); only the mailbox is kept.
    this.transaction = { sender: path.mailbox, params: params.params, accepted: 0, host: undefined };
    this.phase = 'mail';
    return { kind: 'mail', reply: replies.senderOk() };
  }

  #rcpt(args: string): Step {
    if (this.phase === 'greeted') return { kind: 'reply', reply: replies.needHelo() };
    if (!this.transaction) return { kind: 'reply', reply: replies.needMail() };
    if (/^TO: *<postmaster>/i.test(args)) {
      return { kind: 'reply', reply: replies.noLocalMailbox('postmaster') };
    }
    const path = parsePath(args, 'TO');
    if (path.kind === 'bad' || !path.mailbox) return { kind: 'reply', reply: replies.badRecipient() };
    const mailbox = path.mailbox;
    const address = formatPath(mailbox).slice(1, -1);
    if (path.params !== '') {
      const name = path.params.split(/[ =]/)[0] ?? path.params;
      return { kind: 'reply', reply: replies.unsupportedParameter(name.toUpperCase()) };
    }
    // Source routes and local-part routing could make a lenient home server relay onward.
    if (path.sourceRoute)
      return { kind: 'reply', reply: replies.recipientRejected(address, 'source routes are not allowed') };
    const trick = relayTrick(mailbox);
    if (trick) return { kind: 'reply', reply: replies.recipientRejected(address, trick) };
    if (mailbox.domain.startsWith('[')) return { kind: 'reply', reply: replies.relayDenied(address) };
    if (mailbox.international && !this.transaction.params.smtputf8) {
      return { kind: 'reply', reply: reply(553, '5.6.7 Non-ASCII recipient address needs SMTPUTF8') };
    }
    if (this.transaction.accepted >= this.options.maxRecipients) {
      return { kind: 'reply', reply: replies.tooManyRecipients() };
    }
    return { kind: 'rcpt', mailbox, address };
  }

  recipientAccepted(host: string): void {
    if (!this.transaction) return;
    this.transaction.accepted++;
    this.transaction.host = host;
  }

  /** After the final reply to DATA, or RSET. */
  endTransaction(): void {
    this.transaction = undefined;
    if (this.phase === 'mail') this.phase = 'ready';
  }

  /** RFC 3207 §4.2: after the handshake everything learnt before is forgotten. */
  tlsStarted(): void {
    this.tls = true;
    this.phase = 'greeted';
    this.helo = undefined;
    this.esmtp = false;
    this.transaction = undefined;
  }
}

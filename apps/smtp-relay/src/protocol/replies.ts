/**
 * The relay's own SMTP replies. Pure. Texts follow Postfix where the design
 * gives no reason to differ (docs/smtp-relay.md). The reply type, its formatting and
 * the parsing of a backend's replies are @mydns/smtp-client's.
 */
import { reply } from '@mydns/smtp-client';

/** Our own replies (docs/smtp-relay.md, "Failures"). */
export const replies = {
  greeting: (host: string) => reply(220, `${host} ESMTP MyDNS relay`),
  bye: () => reply(221, '2.0.0 Bye'),
  ok: () => reply(250, '2.0.0 Ok'),
  senderOk: () => reply(250, '2.1.0 Ok'),
  helo: (host: string) => reply(250, host),
  vrfy: () => reply(252, '2.0.0 Cannot VRFY user, but will accept message and attempt delivery'),
  help: () => reply(214, '2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET NOOP VRFY QUIT STARTTLS'),
  startData: () => reply(354, 'End data with <CR><LF>.<CR><LF>'),
  startTls: () => reply(220, '2.0.0 Ready to start TLS'),

  tooManyConnections: (host: string, client: string) =>
    reply(421, `4.7.0 ${host} Error: too many connections from ${client}`),
  tooManySessions: (host: string) => reply(421, `4.3.2 ${host} Service not available, too many sessions`),
  shuttingDown: (host: string) => reply(421, `4.3.2 ${host} Service shutting down, try again later`),
  timeout: (host: string) => reply(421, `4.4.2 ${host} Error: timeout exceeded`),
  tooManyErrors: (host: string) => reply(421, `4.7.0 ${host} Error: too many errors`),
  tooManyTransactions: (host: string) =>
    reply(421, `4.7.0 ${host} Error: too many transactions in one session`),

  backendRefused: (host: string) => reply(451, `4.4.1 No answer from ${host} mail server, try again later`),
  backendBroken: (host: string) => reply(451, `4.4.2 Bad connection to ${host} mail server, try again later`),
  lookupFailed: () => reply(451, '4.4.3 Directory server failure, try again later'),
  unroutable: (host: string) => reply(451, `4.4.4 Unable to route mail for ${host}, try again later`),
  congestion: (host: string) => reply(451, `4.4.5 Mail system congestion for ${host}, try again later`),
  /** One client's share of a host's connections is used up: 4.7.1, as Postfix's per-client limits answer. */
  clientCongestion: (client: string, host: string) =>
    reply(
      451,
      `4.7.1 Error: too many connections from ${client} to ${host} mail server at once, try again later`,
    ),
  loop: (domain: string) => reply(451, `4.4.6 Mail for ${domain} loops back to myself`),
  tlsUnavailable: () => reply(454, '4.7.0 TLS not available due to local problem'),
  splitTransaction: (rcpt: string, domain: string) =>
    reply(452, `4.5.3 <${rcpt}>: use a separate transaction for ${domain}`),
  tooManyRecipients: () => reply(452, '4.5.3 Error: too many recipients'),

  commandUnknown: () => reply(500, '5.5.2 Error: command not recognized'),
  lineTooLong: () => reply(500, '5.5.2 Error: line too long'),
  badCharacters: () => reply(500, '5.5.2 Error: bad characters in command'),
  syntax: (usage: string) => reply(501, `5.5.4 Syntax: ${usage}`),
  badSender: () => reply(501, '5.1.7 Bad sender address syntax'),
  badRecipient: () => reply(501, '5.1.3 Bad recipient address syntax'),
  notImplemented: () => reply(502, '5.5.1 Error: command not implemented'),
  needHelo: () => reply(503, '5.5.1 Error: send HELO/EHLO first'),
  needMail: () => reply(503, '5.5.1 Error: need MAIL command'),
  nestedMail: () => reply(503, '5.5.1 Error: nested MAIL command'),
  tlsInTransaction: () => reply(503, '5.5.1 Error: MAIL transaction in progress'),
  tlsActive: () => reply(554, '5.5.1 Error: TLS already active'),
  noValidRecipients: () => reply(554, '5.5.1 Error: no valid recipients'),
  relayDenied: (rcpt: string) => reply(554, `5.7.1 <${rcpt}>: Relay access denied`),
  recipientRejected: (rcpt: string, why: string) =>
    reply(550, `5.7.1 <${rcpt}>: Recipient address rejected: ${why}`),
  noLocalMailbox: (rcpt: string) => reply(550, `5.1.1 <${rcpt}>: this relay has no local mailboxes`),
  messageTooBig: () => reply(552, '5.3.4 Message size exceeds fixed limit'),
  unsupportedParameter: (name: string) => reply(555, `5.5.4 Unsupported option: ${name}`),
  badParameter: (name: string) => reply(501, `5.5.4 Bad ${name} parameter`),
  eightBitUnsupported: (host: string) =>
    reply(550, `5.6.3 ${host} mail server does not accept 8-bit content (BODY=8BITMIME)`),
  utf8Unsupported: (host: string) =>
    reply(553, `5.6.7 ${host} mail server does not accept internationalised addresses (SMTPUTF8)`),
} as const;

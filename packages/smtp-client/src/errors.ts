import type { Reply } from './reply.ts';

/**
 * Why talking to a server failed:
 * - `connect`: no connection (refused, unreachable, timed out);
 * - `protocol`: the connection broke, timed out waiting, TLS failed, or the
 *   server said something that is not SMTP or not what the step needs;
 * - `auth`: the server refused our credentials;
 * - `rejected`: the server refused the message or a recipient (`reply` says how).
 * A user of the package (the relay) may add kinds of its own.
 */
export type SmtpFailure = 'connect' | 'protocol' | 'auth' | 'rejected';

export class SmtpError<K extends string = SmtpFailure> extends Error {
  readonly kind: K;
  /** A TLS handshake failed (an opportunistic policy may try again without TLS). */
  readonly tlsHandshake: boolean;
  /** The server's reply, when one caused the failure. */
  readonly reply: Reply | undefined;
  constructor(kind: K, message: string, options: { tlsHandshake?: boolean; reply?: Reply } = {}) {
    super(message);
    this.name = 'SmtpError';
    this.kind = kind;
    this.tlsHandshake = options.tlsHandshake ?? false;
    this.reply = options.reply;
  }
}

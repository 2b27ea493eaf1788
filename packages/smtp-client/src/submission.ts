/**
 * A session with a smarthost (a mail submission server, RFC 6409): connect
 * (plain, then STARTTLS when offered, or TLS from the start), EHLO, AUTH when
 * credentials are given, then any number of messages, then QUIT.
 *
 * TLS: `verify` checks the certificate against the system's CAs and the
 * host name, `no-verify` encrypts without checking (a self-signed smarthost),
 * `none` never starts TLS (a smarthost on loopback). Credentials never go
 * out in plaintext unless `none` says so: a server that stops offering
 * STARTTLS (or an attacker in the path who strips it) gets nothing.
 */
import { isIP } from 'node:net';
import type { Credentials } from './auth.ts';
import {
  authenticate,
  type Envelope,
  readGreeting,
  sendEhlo,
  sendMessage,
  upgradeToTls,
} from './commands.ts';
import { connectImplicitTls, connectTcp } from './connect.ts';
import { SmtpConnection } from './connection.ts';
import { SmtpError } from './errors.ts';
import { DEFAULT_REPLY_LIMITS, type Reply, type ReplyLimits } from './reply.ts';

export type SubmissionTls = 'verify' | 'no-verify' | 'none';

export interface SubmissionOptions {
  readonly host: string;
  readonly port: number;
  /** `starttls`: plain first, STARTTLS when offered (smtp://); `implicit`: TLS from the first byte (smtps://). */
  readonly security: 'starttls' | 'implicit';
  readonly tls: SubmissionTls;
  readonly credentials?: Credentials | undefined;
  /** Our name in EHLO. */
  readonly clientName: string;
  readonly timeouts: {
    readonly connectMs: number;
    /** Each reply, and the TLS handshake. */
    readonly replyMs: number;
    /** The reply after the end of a message. */
    readonly finalMs: number;
  };
  readonly replyLimits?: ReplyLimits;
  /** Cuts the opening short (connect, TLS, greeting, EHLO, AUTH): an SmtpError. */
  readonly signal?: AbortSignal;
}

export interface Submission {
  readonly connection: SmtpConnection;
  /** The mechanism AUTH used; undefined without credentials. */
  readonly authenticated: 'PLAIN' | 'LOGIN' | undefined;
  /** Sends one message; an SmtpRejection when the server refuses it (the session goes on). */
  send(envelope: Envelope, message: string | Buffer): Promise<{ reply: Reply }>;
  /** QUIT, without waiting long. */
  close(): void;
  /** Cuts the connection at once (shutdown). */
  abort(): void;
}

export async function openSubmission(options: SubmissionOptions): Promise<Submission> {
  const { timeouts } = options;
  const family = isIP(options.host);
  const target = { host: options.host, port: options.port, ...(family ? { family: family as 4 | 6 } : {}) };
  // SNI carries names only (RFC 6066 §3), never an address literal.
  const servername = family ? undefined : options.host;
  const rejectUnauthorized = options.tls === 'verify';
  const { signal } = options;
  const socket =
    options.security === 'implicit'
      ? await connectImplicitTls(target, {
          rejectUnauthorized,
          servername,
          connectMs: timeouts.connectMs,
          tlsMs: timeouts.replyMs,
          signal,
        })
      : await connectTcp(target, timeouts.connectMs, signal);
  const conn = new SmtpConnection(socket, options.replyLimits ?? DEFAULT_REPLY_LIMITS);
  const onAbort = () => conn.destroy();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await readGreeting(conn, timeouts.replyMs);
    await sendEhlo(conn, options.clientName, timeouts.replyMs);
    if (options.security === 'starttls' && options.tls !== 'none' && conn.capabilities.starttls) {
      const upgraded = await upgradeToTls(conn, {
        ehloName: options.clientName,
        rejectUnauthorized,
        servername,
        replyMs: timeouts.replyMs,
        tlsMs: timeouts.replyMs,
      });
      if (!upgraded && options.credentials)
        throw new SmtpError(
          'protocol',
          'the server refused STARTTLS; the credentials are not sent without TLS',
        );
    }
    let authenticated: 'PLAIN' | 'LOGIN' | undefined;
    if (options.credentials) {
      if (!conn.secure && options.tls !== 'none')
        throw new SmtpError(
          'protocol',
          'the server offers no STARTTLS; the credentials are not sent without TLS',
        );
      authenticated = await authenticate(conn, options.credentials, timeouts.replyMs);
    }
    signal?.removeEventListener('abort', onAbort);
    return {
      connection: conn,
      authenticated,
      send: (envelope, message) => sendMessage(conn, envelope, message, timeouts),
      close: () => conn.quit(),
      abort: () => conn.destroy(),
    };
  } catch (error) {
    signal?.removeEventListener('abort', onAbort);
    conn.destroy();
    throw error;
  }
}

/**
 * The client's steps of an SMTP session (RFC 5321 §3, §4.1), each on an open
 * SmtpConnection, each an SmtpError when the server does not go along.
 */
import {
  type Credentials,
  chooseAuthMechanism,
  encodeAuthLogin,
  encodeAuthPlain,
  loginPrompt,
} from './auth.ts';
import { capabilitiesOf } from './capabilities.ts';
import type { SmtpConnection } from './connection.ts';
import { encodeData } from './data.ts';
import { SmtpError } from './errors.ts';
import { describeReply, type Reply } from './reply.ts';

/** The server's `220` banner (a 554 banner, or anything else, is a refusal to talk). */
export async function readGreeting(conn: SmtpConnection, timeoutMs: number): Promise<Reply> {
  const greeting = await conn.readReply(timeoutMs);
  if (greeting.code !== 220)
    throw new SmtpError('protocol', `greeting ${greeting.code}`, { reply: greeting });
  return greeting;
}

/**
 * EHLO, or HELO when EHLO is refused (then no extensions: undefined). Sets
 * `conn.capabilities` from the answer.
 */
export async function sendEhlo(
  conn: SmtpConnection,
  name: string,
  timeoutMs: number,
): Promise<Reply | undefined> {
  const reply = await conn.command(`EHLO ${name}`, timeoutMs);
  if (reply.code === 250) {
    conn.capabilities = capabilitiesOf(reply);
    return reply;
  }
  const helo = await conn.command(`HELO ${name}`, timeoutMs);
  if (helo.code !== 250)
    throw new SmtpError('protocol', `EHLO and HELO refused (${reply.code}, ${helo.code})`, { reply: helo });
  conn.capabilities = capabilitiesOf(undefined);
  return undefined;
}

/**
 * STARTTLS (RFC 3207): `220`, the handshake, then EHLO again inside TLS
 * (§4.2: the server forgets what it said before). False when the server
 * refuses the command (nothing changed, the session goes on in plaintext if
 * the caller allows it); a failed handshake is an SmtpError (tlsHandshake).
 */
export async function upgradeToTls(
  conn: SmtpConnection,
  options: {
    ehloName: string;
    rejectUnauthorized: boolean;
    servername: string | undefined;
    replyMs: number;
    tlsMs: number;
  },
): Promise<boolean> {
  const ready = await conn.command('STARTTLS', options.replyMs);
  if (ready.code !== 220) return false;
  await conn.startTls({
    rejectUnauthorized: options.rejectUnauthorized,
    servername: options.servername,
    timeoutMs: options.tlsMs,
  });
  await sendEhlo(conn, options.ehloName, options.replyMs);
  return true;
}

/**
 * AUTH PLAIN (with the initial response, one round trip) when offered, else
 * AUTH LOGIN. A 535 (or any other refusal) is an `auth` failure.
 */
export async function authenticate(
  conn: SmtpConnection,
  credentials: Credentials,
  timeoutMs: number,
): Promise<'PLAIN' | 'LOGIN'> {
  const mechanism = chooseAuthMechanism(conn.capabilities.auth);
  if (!mechanism) {
    const offered = [...conn.capabilities.auth].join(' ') || 'none';
    throw new SmtpError('auth', `the server offers no AUTH PLAIN or LOGIN (offered: ${offered})`);
  }
  let answer: Reply;
  if (mechanism === 'PLAIN') {
    answer = await conn.command(`AUTH PLAIN ${encodeAuthPlain(credentials)}`, timeoutMs);
    // A server that ignores the initial response asks with an empty 334 (RFC 4954 §4).
    if (answer.code === 334) answer = await conn.command(encodeAuthPlain(credentials), timeoutMs);
  } else {
    answer = await conn.command('AUTH LOGIN', timeoutMs);
    let asked = 0;
    while (answer.code === 334 && asked < 2) {
      const prompt = loginPrompt(answer.lines[0] ?? '');
      const wantsPass = prompt === 'pass' || (prompt === 'unknown' && asked === 1);
      answer = await conn.command(
        encodeAuthLogin(wantsPass ? credentials.pass : credentials.user),
        timeoutMs,
      );
      asked++;
    }
  }
  if (answer.code === 235) return mechanism;
  if (answer.code === 334) {
    // Cancel the exchange (RFC 4954 §4: "*"), so the server does not take the next line as an answer.
    await conn.command('*', timeoutMs).catch(() => undefined);
  }
  throw new SmtpError('auth', `AUTH ${mechanism} refused: ${describeReply(answer)}`, { reply: answer });
}

export interface Envelope {
  /** The reverse path (MAIL FROM), an ASCII address; empty for a bounce. */
  readonly from: string;
  /** One or more recipients (RCPT TO), ASCII addresses. */
  readonly to: readonly string[];
}

export interface SendTimeouts {
  /** Each reply before the message. */
  readonly replyMs: number;
  /** The reply after the end of data (servers scan the message before answering). */
  readonly finalMs: number;
}

/** Where in a transaction the server said no. */
export type RejectedAt = 'mail' | 'rcpt' | 'data' | 'final';

/**
 * One transaction: MAIL, RCPT for each recipient, DATA, the message (CRLF
 * lines, dot-stuffed by encodeData), the final reply. All recipients must be
 * accepted. A refusal is an SmtpError of kind `rejected`, carrying the reply,
 * after an RSET, so the connection can carry the next message.
 */
export async function sendMessage(
  conn: SmtpConnection,
  envelope: Envelope,
  message: string | Buffer,
  timeouts: SendTimeouts,
): Promise<{ reply: Reply }> {
  for (const address of [envelope.from, ...envelope.to]) assertAddressSafe(address);
  if (envelope.to.length === 0) throw new SmtpError('protocol', 'a message needs a recipient');
  const lines = [`MAIL FROM:<${envelope.from}>`, ...envelope.to.map((to) => `RCPT TO:<${to}>`)];
  const replies = conn.capabilities.pipelining
    ? await conn.pipelined(lines, timeouts.replyMs)
    : await sequential(conn, lines, timeouts.replyMs);
  for (const [i, answer] of replies.entries()) {
    if (answer.code !== 250 && answer.code !== 251) await reject(conn, i === 0 ? 'mail' : 'rcpt', answer);
  }
  const go = await conn.command('DATA', timeouts.replyMs);
  if (go.code !== 354) await reject(conn, 'data', go);
  conn.write(encodeData(message));
  const final = await conn.readReply(timeouts.finalMs);
  if (final.code !== 250) await reject(conn, 'final', final);
  return { reply: final };
}

async function sequential(conn: SmtpConnection, lines: readonly string[], timeoutMs: number) {
  const answers: Reply[] = [];
  for (const line of lines) {
    const answer = await conn.command(line, timeoutMs);
    answers.push(answer);
    // Without pipelining there is no point naming recipients once MAIL is refused.
    if (answer.code !== 250 && answer.code !== 251) break;
  }
  return answers;
}

async function reject(conn: SmtpConnection, at: RejectedAt, answer: Reply): Promise<never> {
  // After a refused DATA or final reply the transaction is over already; RSET costs nothing there either.
  await conn.command('RSET', 5000).catch(() => undefined);
  throw new SmtpRejection(at, answer);
}

/** The server refused the message (kind `rejected`); `at` says at which step. */
export class SmtpRejection extends SmtpError<'rejected'> {
  readonly at: RejectedAt;
  override readonly reply: Reply;
  constructor(at: RejectedAt, answer: Reply) {
    super('rejected', `${at.toUpperCase()} refused: ${describeReply(answer)}`, { reply: answer });
    this.at = at;
    this.reply = answer;
  }
  /** A 5xx: trying again later will not help. */
  get permanent(): boolean {
    return this.reply.code >= 500;
  }
}

/**
 * Addresses come from our callers, but a line break or a `>` in one would end
 * the command early and start another (command injection): printable ASCII
 * without spaces and angle brackets only.
 */
function assertAddressSafe(address: string): void {
  if (!/^[\x21-\x7e]*$/.test(address) || /[<>]/.test(address))
    throw new SmtpError('protocol', 'an address holds characters that cannot go into a command');
}

/** RSET: between transactions on one connection (RFC 5321 §4.1.1.5). */
export async function resetTransaction(conn: SmtpConnection, timeoutMs: number): Promise<void> {
  const answer = await conn.command('RSET', timeoutMs);
  if (answer.code !== 250) throw new SmtpError('protocol', `RSET refused: ${describeReply(answer)}`);
}

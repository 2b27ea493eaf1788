/**
 * One connection to an SMTP server, as its client: the server's replies
 * parsed as they arrive and handed out in order, commands written one at a
 * time (or pipelined), a message body written straight through, STARTTLS on
 * the same socket. Every failure is an SmtpError; the first one ends the
 * connection and every later call gets it again.
 */
import type { Socket } from 'node:net';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import { type Capabilities, capabilitiesOf } from './capabilities.ts';
import { SmtpError } from './errors.ts';
import { parseReply, type Reply, type ReplyLimits } from './reply.ts';

// The ordinary ends of a connection: shared, so closing one captures no stack trace.
const CLOSED_BY_US = new SmtpError('protocol', 'closed on our side');
const CONNECTION_LOST = new SmtpError('protocol', 'connection lost');

/** Replies nobody asked for that are kept before the connection counts as broken. */
const MAX_UNSOLICITED = 10;

export class SmtpConnection {
  capabilities: Capabilities = capabilitiesOf(undefined);
  tlsInfo: { version: string; cipher: string } | undefined;
  #socket: Socket | TLSSocket;
  #buffer: Buffer = Buffer.alloc(0);
  #replies: Reply[] = [];
  #waiter: { resolve: (r: Reply) => void; reject: (e: SmtpError) => void; timer: NodeJS.Timeout } | undefined;
  #error: SmtpError | undefined;
  #quitting = false;
  /** Command lines sent and their replies read: equal when nothing is outstanding. */
  #sent = 0;
  #answered = 0;
  readonly #limits: ReplyLimits;
  readonly #closeListeners: (() => void)[] = [];

  constructor(socket: Socket | TLSSocket, limits: ReplyLimits) {
    this.#socket = socket;
    this.#limits = limits;
    this.#attach(socket);
  }

  #onData = (chunk: Buffer) => {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    for (;;) {
      const parsed = parseReply(this.#buffer, this.#limits);
      if (parsed.kind === 'incomplete') return;
      if (parsed.kind === 'malformed') {
        this.#fail(new SmtpError('protocol', `malformed reply: ${parsed.reason}`));
        return;
      }
      this.#buffer = this.#buffer.subarray(parsed.consumed);
      const waiter = this.#waiter;
      if (waiter) {
        this.#waiter = undefined;
        clearTimeout(waiter.timer);
        waiter.resolve(parsed.reply);
      } else {
        this.#replies.push(parsed.reply);
        if (this.#replies.length > MAX_UNSOLICITED) {
          this.#fail(new SmtpError('protocol', 'too many replies nobody asked for'));
          return;
        }
      }
    }
  };
  #onClose = () => this.#fail(CONNECTION_LOST);
  #onError = (error: Error) => this.#fail(new SmtpError('protocol', error.message));

  #attach(socket: Socket | TLSSocket) {
    socket.on('data', this.#onData);
    socket.on('close', this.#onClose);
    socket.on('error', this.#onError);
  }

  #detach(socket: Socket | TLSSocket) {
    socket.off('data', this.#onData);
    socket.off('close', this.#onClose);
    socket.off('error', this.#onError);
  }

  #fail(error: SmtpError) {
    if (!this.#error) this.#error = error;
    const waiter = this.#waiter;
    this.#waiter = undefined;
    if (waiter) {
      clearTimeout(waiter.timer);
      waiter.reject(this.#error);
    }
    this.#socket.destroy();
    for (const listener of this.#closeListeners.splice(0)) listener();
  }

  get closed(): boolean {
    return this.#error !== undefined;
  }

  /** Why the connection ended (undefined while it is open). */
  get failure(): SmtpError | undefined {
    return this.#error;
  }

  /** Replies that arrived without a command (e.g. a 5xx in the middle of DATA). */
  get unsolicited(): number {
    return this.#replies.length;
  }

  /** True once STARTTLS succeeded, or when the connection began inside TLS (`smtps`). */
  get secure(): boolean {
    return 'encrypted' in this.#socket && this.#socket.encrypted === true;
  }

  /** Open, every command answered and its reply read, nothing unread: another user may take over. */
  get settled(): boolean {
    return (
      !this.closed &&
      this.#sent === this.#answered &&
      this.#waiter === undefined &&
      this.#replies.length === 0 &&
      this.#buffer.length === 0
    );
  }

  onClose(listener: () => void): void {
    if (this.closed) listener();
    else this.#closeListeners.push(listener);
  }

  readReply(timeoutMs: number): Promise<Reply> {
    if (this.#error) return Promise.reject(this.#error);
    const counted = (reply: Reply) => {
      if (this.#answered < this.#sent) this.#answered++;
      return reply;
    };
    const queued = this.#replies.shift();
    if (queued) return Promise.resolve(counted(queued));
    return new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(
        () => this.#fail(new SmtpError('protocol', `no reply within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.#waiter = { resolve, reject, timer };
    }).then(counted);
  }

  /**
   * Several commands in one packet, for a server that offers PIPELINING
   * (RFC 2920): one round trip less; the replies come back in order.
   */
  async pipelined(lines: readonly string[], timeoutMs: number): Promise<Reply[]> {
    if (this.#error) throw this.#error;
    this.#sent += lines.length;
    this.#socket.write(lines.map((line) => `${line}\r\n`).join(''), 'latin1');
    const answers: Reply[] = [];
    for (let i = 0; i < lines.length; i++) answers.push(await this.readReply(timeoutMs));
    return answers;
  }

  /** Sends one command line (built by us, never someone else's raw line) and reads its reply. */
  command(line: string, timeoutMs: number): Promise<Reply> {
    if (this.#error) return Promise.reject(this.#error);
    this.#sent++;
    this.#socket.write(`${line}\r\n`, 'latin1');
    return this.readReply(timeoutMs);
  }

  write(data: Buffer | string): boolean {
    if (this.#error) return true;
    return this.#socket.write(data);
  }

  /** Several writes, one packet. */
  cork(): void {
    this.#socket.cork();
  }

  uncork(): void {
    this.#socket.uncork();
  }

  onceDrain(listener: () => void): void {
    this.#socket.once('drain', listener);
  }

  /** Sends bytes before the greeting (a PROXY header). */
  writeRaw(data: Buffer): void {
    this.#socket.write(data);
  }

  /** The TLS handshake on this connection, after the server's 220 to STARTTLS (RFC 3207). */
  async startTls(options: {
    rejectUnauthorized: boolean;
    servername: string | undefined;
    timeoutMs: number;
  }): Promise<TLSSocket> {
    const plain = this.#socket;
    this.#detach(plain);
    // Anything the server sent after its 220 is not trusted (RFC 3207 §4.2).
    this.#buffer = Buffer.alloc(0);
    this.#replies = [];
    const secure = tlsConnect({
      socket: plain as Socket,
      rejectUnauthorized: options.rejectUnauthorized,
      minVersion: 'TLSv1.2',
      ...(options.servername ? { servername: options.servername } : {}),
    });
    this.#socket = secure;
    await awaitHandshake(secure, options.timeoutMs).catch((error: SmtpError) => {
      this.#error ??= error;
      secure.destroy();
      plain.destroy();
      throw error;
    });
    this.#attach(secure);
    this.tlsInfo = describeTls(secure);
    return secure;
  }

  /** QUIT politely, without waiting long for the answer. */
  quit(): void {
    if (this.#error || this.#quitting) return;
    this.#quitting = true;
    this.#socket.write('QUIT\r\n');
    this.#socket.end();
    const timer = setTimeout(() => this.destroy(), 2000);
    timer.unref();
    this.onClose(() => clearTimeout(timer));
  }

  destroy(): void {
    this.#fail(CLOSED_BY_US);
  }
}

/** Resolves at `secureConnect`; an SmtpError (tlsHandshake) on failure or after `timeoutMs`. */
export function awaitHandshake(secure: TLSSocket, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      secure.destroy();
      reject(new SmtpError('protocol', 'TLS handshake timed out', { tlsHandshake: true }));
    }, timeoutMs);
    secure.once('secureConnect', () => {
      clearTimeout(timer);
      secure.off('error', onError);
      resolve();
    });
    const onError = (error: Error) => {
      clearTimeout(timer);
      reject(new SmtpError('protocol', `TLS handshake failed: ${error.message}`, { tlsHandshake: true }));
    };
    secure.once('error', onError);
  });
}

export function describeTls(secure: TLSSocket): { version: string; cipher: string } {
  const cipher = secure.getCipher();
  return { version: secure.getProtocol() ?? 'TLS', cipher: cipher.standardName ?? cipher.name };
}

/**
 * The connection to a home mail server (docs/smtp-relay.md, "The session"): its
 * replies parsed as they arrive, one command at a time for the session, the
 * DATA body written straight through, STARTTLS on the same socket.
 * backend-handshake.ts opens it. Every failure is a BackendError whose kind
 * maps to a 451 4.4.x reply: the sender keeps the mail.
 */
import type { Socket } from 'node:net';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import type { IpAddress } from '@mydns/domain';
import type { Logger } from '@mydns/runtime';
import type { BackendTlsMode, ClientAddressMode } from './hosts.ts';
import type { Endpoint } from './protocol/client-address.ts';
import { parseExtensions, parseReply, type Reply, type ReplyLimits } from './protocol/replies.ts';
import type { TargetPolicy } from './target-policy.ts';

/** blocked → 451 4.4.4, connect → 4.4.1, protocol → 4.4.2, loop → 4.4.6, busy → 4.4.5. */
export type BackendFailure = 'blocked' | 'connect' | 'protocol' | 'loop' | 'busy';

export class BackendError extends Error {
  readonly kind: BackendFailure;
  /** A TLS handshake failed: an opportunistic policy may try again without TLS. */
  readonly tlsHandshake: boolean;
  constructor(kind: BackendFailure, message: string, options: { tlsHandshake?: boolean } = {}) {
    super(message);
    this.name = 'BackendError';
    this.kind = kind;
    this.tlsHandshake = options.tlsHandshake ?? false;
  }
}

export interface BackendTarget {
  /** The host's label (for logs and per-host limits). */
  readonly host: string;
  /** `<host>.<zone>`: the name a `verify` certificate must carry. */
  readonly domain: string;
  /** Literal addresses, tried in order. */
  readonly addresses: readonly IpAddress[];
  readonly port: number;
  readonly clientAddress: ClientAddressMode;
  readonly tls: BackendTlsMode;
  readonly tlsFingerprint: string | null;
}

export interface BackendContext {
  readonly hostname: string;
  readonly client: Endpoint;
  /** Where the client reached us (the PROXY header's destination). */
  readonly local: Endpoint;
  readonly helo: string | undefined;
  readonly esmtp: boolean;
  readonly policy: TargetPolicy;
  readonly timeouts: {
    readonly connectMs: number;
    readonly greetingMs: number;
    readonly replyMs: number;
    readonly tlsMs: number;
  };
  readonly replyLimits: ReplyLimits;
  readonly logger: Logger;
}

export interface Capabilities {
  readonly pipelining: boolean;
  readonly size: boolean;
  readonly eightBitMime: boolean;
  readonly smtputf8: boolean;
  readonly starttls: boolean;
  /** Attributes of the `XCLIENT` keyword, upper case; undefined when not offered. */
  readonly xclient: ReadonlySet<string> | undefined;
}

/** What a server offers in its EHLO reply (nothing after HELO). */
export function capabilitiesOf(ehlo: Reply | undefined): Capabilities {
  const ext = ehlo ? parseExtensions(ehlo) : new Map<string, string[]>();
  const xclient = ext.get('XCLIENT');
  return {
    pipelining: ext.has('PIPELINING'),
    size: ext.has('SIZE'),
    eightBitMime: ext.has('8BITMIME'),
    smtputf8: ext.has('SMTPUTF8'),
    starttls: ext.has('STARTTLS'),
    xclient: xclient ? new Set(xclient.map((a) => a.toUpperCase())) : undefined,
  };
}

// The ordinary ends of a connection: shared, so closing one captures no stack trace.
const CLOSED_BY_RELAY = new BackendError('protocol', 'closed by the relay');
const CONNECTION_LOST = new BackendError('protocol', 'connection lost');

export class BackendConnection {
  readonly target: BackendTarget;
  readonly address: IpAddress;
  capabilities: Capabilities = capabilitiesOf(undefined);
  tlsInfo: { version: string; cipher: string } | undefined;
  #socket: Socket | TLSSocket;
  #buffer: Buffer = Buffer.alloc(0);
  #replies: Reply[] = [];
  #waiter:
    | { resolve: (r: Reply) => void; reject: (e: BackendError) => void; timer: NodeJS.Timeout }
    | undefined;
  #error: BackendError | undefined;
  #quitting = false;
  readonly #limits: ReplyLimits;
  readonly #closeListeners: (() => void)[] = [];

  constructor(socket: Socket, target: BackendTarget, address: IpAddress, limits: ReplyLimits) {
    this.#socket = socket;
    this.target = target;
    this.address = address;
    this.#limits = limits;
    this.#attach(socket);
  }

  #onData = (chunk: Buffer) => {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    for (;;) {
      const parsed = parseReply(this.#buffer, this.#limits);
      if (parsed.kind === 'incomplete') return;
      if (parsed.kind === 'malformed') {
        this.#fail(new BackendError('protocol', `malformed reply: ${parsed.reason}`));
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
        if (this.#replies.length > 10) {
          this.#fail(new BackendError('protocol', 'too many replies nobody asked for'));
          return;
        }
      }
    }
  };
  #onClose = () => this.#fail(CONNECTION_LOST);
  #onError = (error: Error) => this.#fail(new BackendError('protocol', error.message));

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

  #fail(error: BackendError) {
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
  get failure(): BackendError | undefined {
    return this.#error;
  }

  /** Replies that arrived without a command (e.g. a 5xx in the middle of DATA). */
  get unsolicited(): number {
    return this.#replies.length;
  }

  onClose(listener: () => void): void {
    if (this.closed) listener();
    else this.#closeListeners.push(listener);
  }

  readReply(timeoutMs: number): Promise<Reply> {
    if (this.#error) return Promise.reject(this.#error);
    const queued = this.#replies.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => this.#fail(new BackendError('protocol', `no reply within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.#waiter = { resolve, reject, timer };
    });
  }

  /**
   * MAIL and RCPT in one packet when the server offers PIPELINING (RFC 2920),
   * one round trip less; the replies come back in order.
   */
  async pipelined(lines: readonly string[], timeoutMs: number): Promise<Reply[]> {
    if (this.#error) throw this.#error;
    this.#socket.write(lines.map((line) => `${line}\r\n`).join(''), 'latin1');
    const answers: Reply[] = [];
    for (let i = 0; i < lines.length; i++) answers.push(await this.readReply(timeoutMs));
    return answers;
  }

  /** Sends one command line (built by us, never a client's raw line) and reads its reply. */
  command(line: string, timeoutMs: number): Promise<Reply> {
    if (this.#error) return Promise.reject(this.#error);
    this.#socket.write(`${line}\r\n`, 'latin1');
    return this.readReply(timeoutMs);
  }

  write(data: Buffer | string): boolean {
    if (this.#error) return true;
    return this.#socket.write(data);
  }

  /** Several writes, one packet (the Received header, a DATA chunk and the final "."). */
  cork(): void {
    this.#socket.cork();
  }

  uncork(): void {
    this.#socket.uncork();
  }

  onceDrain(listener: () => void): void {
    this.#socket.once('drain', listener);
  }

  /** Sends bytes before the greeting (the PROXY header). */
  writeRaw(data: Buffer): void {
    this.#socket.write(data);
  }

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
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        secure.destroy();
        reject(new BackendError('protocol', 'TLS handshake timed out', { tlsHandshake: true }));
      }, options.timeoutMs);
      secure.once('secureConnect', () => {
        clearTimeout(timer);
        secure.off('error', onError);
        resolve();
      });
      const onError = (error: Error) => {
        clearTimeout(timer);
        reject(
          new BackendError('protocol', `TLS handshake failed: ${error.message}`, { tlsHandshake: true }),
        );
      };
      secure.once('error', onError);
    }).catch((error: BackendError) => {
      this.#error ??= error;
      secure.destroy();
      plain.destroy();
      throw error;
    });
    this.#attach(secure);
    const cipher = secure.getCipher();
    this.tlsInfo = { version: secure.getProtocol() ?? 'TLS', cipher: cipher.standardName ?? cipher.name };
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
    this.#fail(CLOSED_BY_RELAY);
  }
}

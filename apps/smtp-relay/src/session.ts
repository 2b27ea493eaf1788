/**
 * One client connection (docs/smtp-relay.md, "The session"). The pure state
 * machine decides what each command means; this file does the I/O around it:
 * reading lines in order (PIPELINING: one command at a time, the socket
 * paused while a backend is asked, replies in order, no input lost), DATA
 * mode and its backpressure, STARTTLS, timers, the end of the session. What
 * RCPT does is recipient.ts's, the body's way to the backend
 * data-transfer.ts's, and the backend connection backend-pool.ts's.
 */

import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { type SecureContext, TLSSocket } from 'node:tls';
import { parseIpAddress } from '@mydns/domain';
import { faultFields, type Logger } from '@mydns/runtime';
import { formatReply, type Reply } from '@mydns/smtp-client';
import { type BackendContext, BackendError } from './backend.ts';
import { openBackend, resumeBackend } from './backend-handshake.ts';
import { type BackendSlots, SessionBackend } from './backend-pool.ts';
import type { BackendShare } from './backend-share.ts';
import type { RelayConfig } from './config.ts';
import { DataTransfer } from './data-transfer.ts';
import type { RelayEvent } from './metrics.ts';
import type { Endpoint } from './protocol/client-address.ts';
import { LineReader } from './protocol/line-reader.ts';
import { formatReceived } from './protocol/received.ts';
import { replies } from './protocol/replies.ts';
import { SessionState, type Step } from './protocol/state-machine.ts';
import { handleRecipient } from './recipient.ts';
import type { Router } from './routing.ts';
import type { TargetPolicy } from './target-policy.ts';

export interface SessionDeps {
  readonly config: RelayConfig;
  readonly router: Router;
  readonly policy: TargetPolicy;
  readonly secureContext: SecureContext | undefined;
  readonly slots: BackendSlots;
  /** Backend connections shared across sessions (backend-share.ts); without it, each session opens its own. */
  readonly share?: BackendShare;
  readonly logger: Logger;
  /** More than 80% of the session limit in use: idle clients get the short timeout. */
  readonly isBusy: () => boolean;
  readonly openBackend?: typeof openBackend;
  /** Metrics of what became of each message. */
  readonly onEvent?: (event: RelayEvent) => void;
}

/** Stop reading a pipelining client once this much unprocessed input is buffered. */
const MAX_BUFFERED_INPUT = 256 * 1024;

export class Session {
  readonly id = randomBytes(6).toString('hex');
  readonly client: Endpoint;
  readonly local: Endpoint;
  readonly closed: Promise<void>;
  #socket: Socket | TLSSocket;
  readonly #deps: SessionDeps;
  readonly #log: Logger;
  readonly #state: SessionState;
  readonly #reader: LineReader;
  #mode: 'command' | 'data' | 'closed' = 'command';
  #busy = false;
  #stopping = false;
  #errors = 0;
  #lineStartedAt: number | undefined;
  #timer: NodeJS.Timeout | undefined;
  #sessionTimer: NodeJS.Timeout | undefined;
  readonly #backend: SessionBackend;
  #data: DataTransfer | undefined;
  #resolveClosed!: () => void;

  constructor(socket: Socket, client: Endpoint, deps: SessionDeps) {
    this.#socket = socket;
    this.#deps = deps;
    this.client = client;
    const localAddress = parseIpAddress(socket.localAddress ?? '') ?? client.address;
    this.local = { address: localAddress, port: socket.localPort ?? 0 };
    this.#log = deps.logger.child({
      component: 'smtp-session',
      session: this.id,
      client: client.address.text,
    });
    const { config } = deps;
    this.#state = new SessionState({
      hostname: config.hostname,
      maxRecipients: config.limits.recipients,
      maxTransactions: config.limits.transactions,
      maxMessageSize: config.limits.messageSize,
      smtputf8: config.smtputf8,
      tlsConfigured: deps.secureContext !== undefined,
    });
    this.#reader = new LineReader(config.limits.lineLength);
    this.#backend = new SessionBackend({
      slots: deps.slots,
      client: client.address,
      open: deps.openBackend ?? openBackend,
      share: deps.share,
      resume: resumeBackend,
      idleMs: config.timeouts.backendIdleMs,
      isIdle: () => !this.#busy,
      logger: this.#log,
    });
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
    socket.setNoDelay(true);
    this.#attach(socket);
  }

  #onData = (chunk: Buffer) => {
    if (this.#mode === 'closed') return;
    if (this.#mode === 'data' && !this.#busy) {
      this.#feedData(chunk);
      return;
    }
    this.#reader.push(chunk);
    if (this.#reader.buffered > MAX_BUFFERED_INPUT) this.#socket.pause();
    this.#pump();
  };
  #onClose = () => this.#finish();
  #onError = (error: Error) => this.#log.debug('client connection error', { reason: error.message });

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

  start(): void {
    const { timeouts } = this.#deps.config;
    this.#sessionTimer = setTimeout(
      () => this.#close(replies.timeout(this.#deps.config.hostname)),
      timeouts.sessionMs,
    );
    const greet = () => {
      if (this.#mode === 'closed') return;
      this.#send(replies.greeting(this.#deps.config.hostname));
      this.#armTimer();
      this.#pump();
    };
    if (timeouts.greetingDelayMs > 0) {
      this.#busy = true;
      setTimeout(() => {
        this.#busy = false;
        greet();
      }, timeouts.greetingDelayMs);
    } else {
      greet();
    }
  }

  /** Graceful stop: an idle session gets 421 now, one in a transaction when it ends. */
  requestStop(): void {
    this.#stopping = true;
    if (!this.#busy && this.#mode === 'command' && !this.#state.transaction) {
      this.#close(replies.shuttingDown(this.#deps.config.hostname));
    }
  }

  /** The end of the grace period: 421 and close, whatever the session was doing. */
  forceStop(): void {
    this.#close(replies.shuttingDown(this.#deps.config.hostname));
  }

  #send(r: Reply, options: { countsAsError?: boolean } = {}): void {
    if (this.#mode === 'closed') return;
    this.#socket.write(formatReply(r));
    if (r.code >= 400 && r.code !== 421 && options.countsAsError !== false) {
      this.#errors++;
      if (this.#errors >= this.#deps.config.limits.errors)
        this.#close(replies.tooManyErrors(this.#deps.config.hostname));
    }
  }

  #pump(): void {
    if (this.#busy || this.#mode === 'closed') return;
    const socket = this.#socket;
    socket.cork();
    try {
      while (this.#canProcess()) {
        if (this.#mode === 'data') {
          const rest = this.#reader.takeRest();
          if (rest.length > 0) this.#feedData(rest);
          break;
        }
        const event = this.#reader.next();
        if (!event) break;
        this.#lineStartedAt = undefined;
        if (event.kind === 'too-long') {
          this.#send(replies.lineTooLong());
          continue;
        }
        if (this.#stopping && !this.#state.transaction) {
          this.#close(replies.shuttingDown(this.#deps.config.hostname));
          break;
        }
        this.#execute(this.#state.handle(event.line));
      }
    } finally {
      socket.uncork();
    }
    if (this.#canProcess()) {
      if (this.#reader.buffered <= MAX_BUFFERED_INPUT) this.#socket.resume();
      this.#armTimer();
    }
  }

  /** Not waiting for anything and not closed (a method, so TypeScript does not narrow the mode across calls). */
  #canProcess(): boolean {
    return !this.#busy && this.#mode !== 'closed';
  }

  #execute(step: Step): void {
    switch (step.kind) {
      case 'reply':
        if (step.close) this.#close(step.reply);
        else this.#send(step.reply);
        return;
      case 'helo':
        // A new EHLO ends any transaction; the backend's is dropped with it.
        if (this.#backend.current?.inTransaction) this.#backend.drop();
        this.#send(step.reply);
        return;
      case 'mail':
        this.#send(step.reply);
        return;
      case 'rcpt':
        this.#runAsync(() => this.#recipient(step));
        return;
      case 'data':
        this.#runAsync(() => this.#startData());
        return;
      case 'rset':
        this.#runAsync(() => this.#reset());
        return;
      case 'starttls':
        this.#startTls();
        return;
      case 'quit':
        this.#close(replies.bye());
        return;
    }
  }

  #runAsync(work: () => Promise<void>): void {
    this.#busy = true;
    this.#clearTimer();
    this.#socket.pause();
    work()
      .catch((error: unknown) => {
        this.#log.error('session step failed', faultFields(error));
        this.#send(replies.backendBroken('the'));
        this.#backend.drop();
      })
      .finally(() => {
        this.#busy = false;
        if (this.#mode === 'closed') return;
        if (this.#stopping && !this.#state.transaction && this.#mode === 'command') {
          this.#close(replies.shuttingDown(this.#deps.config.hostname));
          return;
        }
        this.#pump();
      });
  }

  async #recipient(step: Extract<Step, { kind: 'rcpt' }>): Promise<void> {
    const transaction = this.#state.transaction;
    if (!transaction) return;
    const { config } = this.#deps;
    const outcome = await handleRecipient(
      {
        router: this.#deps.router,
        timeouts: config.timeouts,
        backend: this.#backend,
        clientText: this.client.address.text,
        backendContext: () => this.#backendContext(),
        logger: this.#log,
        onEvent: this.#deps.onEvent,
      },
      transaction,
      step.mailbox,
      step.address,
    );
    if (!outcome) return;
    if (outcome.acceptedBy !== undefined) this.#state.recipientAccepted(outcome.acceptedBy);
    this.#send(outcome.reply, outcome.countsAsError === false ? { countsAsError: false } : {});
  }

  /** A backend reply to the client, checked (a backend 421 is never passed on). */
  #relay(answer: Reply, hostDomain: string): void {
    this.#send(this.#backend.passOn(answer, hostDomain));
  }

  #backendContext(): BackendContext {
    const { config } = this.#deps;
    return {
      hostname: config.hostname,
      client: this.client,
      local: this.local,
      helo: this.#state.helo,
      esmtp: this.#state.esmtp,
      policy: this.#deps.policy,
      timeouts: {
        connectMs: config.timeouts.connectMs,
        greetingMs: config.timeouts.backendGreetingMs,
        replyMs: config.timeouts.backendReplyMs,
        tlsMs: config.timeouts.tlsMs,
      },
      replyLimits: { maxLineLength: config.limits.lineLength, maxLines: 100 },
      logger: this.#log,
    };
  }

  async #startData(): Promise<void> {
    const bound = this.#backend.current;
    const { config } = this.#deps;
    const hostDomain = this.#state.transaction?.host ?? `the.${config.zone}`;
    if (!bound?.inTransaction) {
      this.#send(replies.backendBroken(hostDomain));
      this.#state.endTransaction();
      return;
    }
    let answer: Reply;
    try {
      answer = await bound.conn.command('DATA', config.timeouts.backendDataMs);
    } catch (error) {
      if (!(error instanceof BackendError)) throw error;
      this.#backend.drop();
      this.#send(replies.backendBroken(hostDomain));
      this.#state.endTransaction();
      return;
    }
    if (answer.code !== 354) {
      this.#relay(answer, hostDomain);
      return;
    }
    this.#send(replies.startData());
    const received = formatReceived({
      helo: this.#state.helo,
      client: this.client.address,
      hostname: config.hostname,
      esmtp: this.#state.esmtp,
      tls: this.#tlsInfo(),
      id: this.id,
      date: new Date(),
    });
    this.#data = new DataTransfer(bound, received, config.limits.messageSize);
    this.#mode = 'data';
  }

  #tlsInfo(): { version: string; cipher: string } | undefined {
    const socket = this.#socket;
    if (!(socket instanceof TLSSocket)) return undefined;
    const cipher = socket.getCipher();
    return { version: socket.getProtocol() ?? 'TLS', cipher: cipher.standardName ?? cipher.name };
  }

  #feedData(chunk: Buffer): void {
    const transfer = this.#data;
    if (!transfer) return;
    const fed = transfer.feed(chunk);
    // Past the limit: the backend never sees a "." and discards what it got.
    if (fed.overLimit) this.#backend.drop();
    if (fed.stalled) {
      // Backpressure: stop reading the client until the backend has taken what it was given.
      this.#socket.pause();
      transfer.whenDrained(this.#deps.config.timeouts.dataMs, () => {
        if (this.#mode === 'data' && !this.#busy) this.#socket.resume();
      });
    }
    if (fed.done) {
      this.#finishData(transfer, fed.rest);
      return;
    }
    this.#armTimer();
  }

  #finishData(transfer: DataTransfer, rest: Buffer): void {
    this.#data = undefined;
    this.#mode = 'command';
    this.#reader.push(rest);
    const { config } = this.#deps;
    const hostDomain = transfer.backend.host;
    const recipients = this.#state.transaction?.accepted ?? 0;
    this.#runAsync(async () => {
      try {
        if (transfer.oversize) {
          this.#deps.onEvent?.({ type: 'message', outcome: 'too_big' });
          this.#send(replies.messageTooBig());
          return;
        }
        const { reply: answer, early } = await transfer.answer({
          finalMs: config.timeouts.backendFinalMs,
          replyMs: config.timeouts.backendReplyMs,
        });
        if (early) this.#backend.drop();
        this.#deps.onEvent?.({ type: 'message', outcome: 'relayed', code: answer.code });
        this.#log.info('message relayed', {
          host: transfer.backend.host,
          code: answer.code,
          size: transfer.size,
          recipients,
        });
        this.#relay(answer, hostDomain);
      } catch (error) {
        if (!(error instanceof BackendError)) throw error;
        this.#deps.onEvent?.({ type: 'message', outcome: 'backend_failed' });
        this.#log.info('backend failed during DATA', { host: transfer.backend.host, reason: error.message });
        this.#backend.drop();
        this.#send(replies.backendBroken(hostDomain));
      } finally {
        this.#state.endTransaction();
        this.#backend.release();
      }
    });
  }

  async #reset(): Promise<void> {
    const bound = this.#backend.current;
    if (bound?.inTransaction) {
      try {
        const answer = await bound.conn.command('RSET', this.#deps.config.timeouts.backendReplyMs);
        if (answer.code !== 250) this.#backend.drop();
      } catch {
        this.#backend.drop();
      }
    }
    this.#state.endTransaction();
    this.#backend.release();
    this.#send(replies.ok());
  }

  #startTls(): void {
    const context = this.#deps.secureContext;
    if (!context) {
      this.#send(replies.tlsUnavailable());
      return;
    }
    const plain = this.#socket;
    plain.write(formatReply(replies.startTls()));
    plain.uncork();
    // CVE-2011-0411: whatever came after STARTTLS in plaintext is thrown away, not run inside TLS.
    const dropped = this.#reader.clear();
    if (dropped > 0) this.#log.info('discarded plaintext sent after STARTTLS', { bytes: dropped });
    this.#backend.drop();
    this.#detach(plain);
    this.#busy = true;
    this.#clearTimer();
    const secure = new TLSSocket(plain, { isServer: true, secureContext: context });
    this.#socket = secure;
    this.#attach(secure);
    const timer = setTimeout(() => secure.destroy(), this.#deps.config.timeouts.tlsMs);
    secure.once('secure', () => {
      clearTimeout(timer);
      this.#state.tlsStarted();
      this.#busy = false;
      this.#pump();
    });
    secure.once('error', () => clearTimeout(timer));
  }

  #clearTimer(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #armTimer(): void {
    this.#clearTimer();
    if (this.#busy || this.#mode === 'closed') return;
    const { timeouts, hostname } = this.#deps.config;
    let ms: number;
    if (this.#mode === 'data') {
      ms = timeouts.dataMs;
    } else if (this.#reader.hasPartialLine) {
      // A started line must be finished in time, however slowly it trickles in.
      this.#lineStartedAt ??= Date.now();
      ms = Math.max(0, this.#lineStartedAt + timeouts.lineMs - Date.now());
    } else {
      this.#lineStartedAt = undefined;
      ms = this.#deps.isBusy() ? timeouts.busyIdleMs : timeouts.idleMs;
    }
    this.#timer = setTimeout(() => this.#close(replies.timeout(hostname)), ms);
  }

  #close(final?: Reply): void {
    if (this.#mode === 'closed') return;
    const socket = this.#socket;
    if (final && socket.writable) socket.write(formatReply(final));
    this.#mode = 'closed';
    this.#clearTimer();
    this.#backend.close();
    socket.end();
    const timer = setTimeout(() => socket.destroy(), 2000);
    timer.unref();
  }

  #finish(): void {
    if (this.#mode !== 'closed') {
      this.#mode = 'closed';
      this.#clearTimer();
    }
    // A client gone mid-message: the backend never sees a "." (nothing half-delivered).
    this.#backend.close();
    if (this.#sessionTimer) clearTimeout(this.#sessionTimer);
    this.#resolveClosed();
  }
}

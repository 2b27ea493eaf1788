/**
 * One client connection (SMTP-RELAY.md, "The session"). The pure state
 * machine decides what each command means; this file does the I/O around it:
 * reading lines in order (PIPELINING: one command at a time, the socket
 * paused while a backend is asked, replies in order, no input lost), routing
 * recipients and forwarding them, streaming DATA, STARTTLS, timers. The
 * backend connection itself is backend-pool.ts's.
 */

import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { type SecureContext, TLSSocket } from 'node:tls';
import { parseIpAddress } from '@mydns/domain';
import type { Logger } from '@mydns/runtime';
import { type BackendContext, BackendError } from './backend.ts';
import { openBackend } from './backend-handshake.ts';
import { type BackendSlots, type BoundBackend, SessionBackend } from './backend-pool.ts';
import type { RelayConfig } from './config.ts';
import type { RelayEvent } from './metrics.ts';
import type { Endpoint } from './protocol/client-address.ts';
import { formatMailCommand, formatPath, type Mailbox } from './protocol/command.ts';
import { DataStream } from './protocol/data-stream.ts';
import { LineReader } from './protocol/line-reader.ts';
import { formatReceived } from './protocol/received.ts';
import { formatReply, isPositive, type Reply, replies } from './protocol/replies.ts';
import { SessionState, type Step, type Transaction } from './protocol/state-machine.ts';
import type { Router } from './routing.ts';
import type { TargetPolicy } from './target-policy.ts';

export interface SessionDeps {
  readonly config: RelayConfig;
  readonly router: Router;
  readonly policy: TargetPolicy;
  readonly secureContext: SecureContext | undefined;
  readonly slots: BackendSlots;
  readonly logger: Logger;
  /** More than 80% of the session limit in use: idle clients get the short timeout. */
  readonly isBusy: () => boolean;
  readonly openBackend?: typeof openBackend;
  /** Metrics of what became of each message. */
  readonly onEvent?: (event: RelayEvent) => void;
}

/** Stop reading a pipelining client once this much unprocessed input is buffered. */
const MAX_BUFFERED_INPUT = 256 * 1024;

interface DataTransfer {
  readonly stream: DataStream;
  readonly backend: BoundBackend;
  /** The Received header, sent with the first bytes of the body. */
  header: string | undefined;
  forwarding: boolean;
  oversize: boolean;
  /** The final "." went out with the last bytes. */
  terminated: boolean;
}

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
        this.#runAsync(() => this.#recipient(step.mailbox.domain, step));
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
        this.#log.error('session step failed', { reason: (error as Error).message });
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

  async #recipient(domain: string, step: Extract<Step, { kind: 'rcpt' }>): Promise<void> {
    const { config } = this.#deps;
    const route = await this.#withDeadline(this.#deps.router.route(domain), config.timeouts.routingMs);
    if (route === undefined || route.kind === 'error') {
      this.#log.warn('recipient lookup failed', { domain, reason: route?.reason ?? 'timed out' });
      this.#send(replies.lookupFailed());
      return;
    }
    if (route.kind === 'none') {
      this.#send(replies.relayDenied(step.address));
      return;
    }
    if (route.kind === 'unavailable') {
      this.#log.info('host not deliverable now', { host: route.host, reason: route.reason });
      this.#send(replies.unroutable(`${route.host}.${config.zone}`));
      return;
    }
    const host = route.host;
    const hostDomain = `${host.name}.${config.zone}`;
    const transaction = this.#state.transaction;
    if (!transaction) return;
    if (transaction.host !== undefined && transaction.host !== host.name) {
      // One transaction, one home server: the sender retries this one separately.
      this.#send(replies.splitTransaction(step.address, route.domain), { countsAsError: false });
      return;
    }
    if (transaction.accepted > 0 && !this.#backend.current?.inTransaction) {
      // The backend that accepted this transaction's recipients is gone with them.
      this.#send(replies.backendBroken(hostDomain));
      return;
    }
    try {
      const acquired = await this.#backend.acquire(host, config.zone, this.#backendContext());
      if (acquired.kind === 'closed') return;
      if (acquired.kind === 'busy') {
        const limit = acquired.limit === 'host' ? 'host' : 'client_host';
        this.#deps.onEvent?.({ type: 'backend_refused', limit });
        this.#log.info('no backend connection left', { host: host.name, limit });
        this.#send(
          acquired.limit === 'host'
            ? replies.congestion(hostDomain)
            : replies.clientCongestion(this.client.address.text, hostDomain),
        );
        return;
      }
      // The home server gets the domain as it was routed (ASCII), never look-alike or raw UTF-8 bytes.
      const mailbox = { ...step.mailbox, domain: route.domain };
      await this.#forwardRecipient(acquired.backend, transaction, mailbox, hostDomain);
    } catch (error) {
      if (!(error instanceof BackendError)) throw error;
      this.#log.info('backend failed', { host: host.name, kind: error.kind, reason: error.message });
      this.#backend.drop();
      this.#send(this.#failureReply(error, hostDomain, route.domain));
    }
  }

  /** RCPT to the backend, after MAIL when this is the transaction's first (pipelined when it can). */
  async #forwardRecipient(
    bound: BoundBackend,
    transaction: Transaction,
    mailbox: Mailbox,
    hostDomain: string,
  ): Promise<void> {
    const { backendReplyMs } = this.#deps.config.timeouts;
    const rcpt = `RCPT TO:${formatPath(mailbox)}`;
    if (!bound.inTransaction) {
      const caps = bound.conn.capabilities;
      if (transaction.params.body === '8BITMIME' && !caps.eightBitMime) {
        this.#send(replies.eightBitUnsupported(hostDomain));
        return;
      }
      if (transaction.params.smtputf8 && !caps.smtputf8) {
        this.#send(replies.utf8Unsupported(hostDomain));
        return;
      }
      const mail = formatMailCommand(transaction.sender, transaction.params, {
        size: caps.size,
        eightBitMime: caps.eightBitMime,
        smtputf8: caps.smtputf8,
      });
      const [mailAnswer, rcptAnswer] = caps.pipelining
        ? await bound.conn.pipelined([mail, rcpt], backendReplyMs)
        : [await bound.conn.command(mail, backendReplyMs), undefined];
      // A refused MAIL is this recipient's answer (research/smtp.md §2.1, as nginx does).
      if (!mailAnswer || !isPositive(mailAnswer)) {
        if (mailAnswer) this.#relay(mailAnswer, hostDomain);
        return;
      }
      bound.inTransaction = true;
      if (rcptAnswer) {
        this.#relay(rcptAnswer, hostDomain);
        if (isPositive(rcptAnswer)) this.#state.recipientAccepted(bound.host);
        return;
      }
    }
    const answer = await bound.conn.command(rcpt, backendReplyMs);
    this.#relay(answer, hostDomain);
    if (isPositive(answer)) this.#state.recipientAccepted(bound.host);
  }

  #failureReply(error: BackendError, hostDomain: string, domain: string): Reply {
    switch (error.kind) {
      case 'blocked':
        return replies.unroutable(hostDomain);
      case 'connect':
        return replies.backendRefused(hostDomain);
      case 'loop':
        return replies.loop(domain);
      case 'busy':
        return replies.congestion(hostDomain);
      default:
        return replies.backendBroken(hostDomain);
    }
  }

  /** A backend reply to the client, checked: a backend 421 is never passed on (it would be about us). */
  #relay(answer: Reply, hostDomain: string): void {
    if (answer.code === 421) {
      this.#backend.drop();
      this.#send(replies.backendBroken(hostDomain));
      return;
    }
    this.#send(answer);
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
    const hostDomain = `${this.#state.transaction?.host ?? 'the'}.${config.zone}`;
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
    this.#data = {
      stream: new DataStream(),
      backend: bound,
      header: received,
      forwarding: true,
      oversize: false,
      terminated: false,
    };
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
    const result = transfer.stream.feed(chunk);
    const conn = transfer.backend.conn;
    if (!transfer.oversize && transfer.stream.size > this.#deps.config.limits.messageSize) {
      // Past the limit: the backend never sees a "." and discards what it got.
      transfer.oversize = true;
      transfer.forwarding = false;
      this.#backend.drop();
    }
    if (transfer.forwarding && (conn.closed || conn.unsolicited > 0)) transfer.forwarding = false;
    if (transfer.forwarding) {
      let flowing = true;
      conn.cork();
      if (transfer.header !== undefined) {
        flowing = conn.write(transfer.header);
        transfer.header = undefined;
      }
      for (const piece of result.output) flowing = conn.write(piece) && flowing;
      if (result.done) {
        conn.write('.\r\n');
        transfer.terminated = true;
      }
      conn.uncork();
      if (!flowing && !result.done) this.#waitForBackend(transfer);
    }
    if (result.done) {
      this.#finishData(transfer, result.rest);
      return;
    }
    this.#armTimer();
  }

  /** Backpressure: stop reading the client until the backend has taken what it was given. */
  #waitForBackend(transfer: DataTransfer): void {
    const conn = transfer.backend.conn;
    this.#socket.pause();
    const stall = setTimeout(() => {
      transfer.forwarding = false;
      conn.destroy();
    }, this.#deps.config.timeouts.dataMs);
    const go = () => {
      clearTimeout(stall);
      if (this.#mode === 'data' && !this.#busy) this.#socket.resume();
    };
    conn.onceDrain(go);
    conn.onClose(go);
  }

  #finishData(transfer: DataTransfer, rest: Buffer): void {
    this.#data = undefined;
    this.#mode = 'command';
    this.#reader.push(rest);
    const { config } = this.#deps;
    const hostDomain = `${transfer.backend.host}.${config.zone}`;
    const recipients = this.#state.transaction?.accepted ?? 0;
    this.#runAsync(async () => {
      const conn = transfer.backend.conn;
      try {
        if (transfer.oversize) {
          this.#deps.onEvent?.({ type: 'message', outcome: 'too_big' });
          this.#send(replies.messageTooBig());
          return;
        }
        let answer: Reply;
        if (transfer.terminated && !conn.closed) {
          answer = await conn.readReply(config.timeouts.backendFinalMs);
        } else if (!conn.closed && conn.unsolicited > 0) {
          // The backend answered early (it gave up on the message): its answer stands.
          answer = await conn.readReply(config.timeouts.backendReplyMs);
          this.#backend.drop();
        } else {
          throw new BackendError('protocol', conn.failure?.message ?? 'connection lost during DATA');
        }
        this.#deps.onEvent?.({ type: 'message', outcome: 'relayed', code: answer.code });
        this.#log.info('message relayed', {
          host: transfer.backend.host,
          code: answer.code,
          size: transfer.stream.size,
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

  async #withDeadline<T>(work: Promise<T>, ms: number): Promise<T | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), ms);
    });
    try {
      return await Promise.race([work, deadline]);
    } finally {
      clearTimeout(timer);
    }
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

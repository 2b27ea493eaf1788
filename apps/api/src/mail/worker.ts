/**
 * The mail worker (README "Mail"): takes due mails from the outbox in
 * batches (any replica; `skip locked` keeps two from taking the same mail),
 * sends a batch through one smarthost session, and marks each mail sent,
 * due again later (retry.ts) or given up. It runs beside everything else and
 * nothing waits for it: an update that queues a mail has committed a row,
 * and that is all it does.
 *
 * A smarthost that is down costs one connection attempt per batch: the
 * whole batch waits. A worker that dies mid-batch leaves its mails leased;
 * they are due again when the lease ends (a mail may then go out twice,
 * never zero times).
 */
import type { ClaimedMail, MailOutboxRepository } from '@mydns/db';
import { errorMessage, type Logger } from '@mydns/runtime';
import { describeReply, SmtpRejection } from '@mydns/smtp-client';
import { recipientForLog, redactAddresses } from './addresses.ts';
import { afterFailure, type RetryPolicy } from './retry.ts';
import type { MailSession, MailTransport } from './smarthost.ts';

export interface MailWorkerEvents {
  onSent?(kind: string): void;
  onDeferred?(kind: string): void;
  onFailed?(kind: string, reason: 'rejected' | 'expired'): void;
}

export interface MailWorkerOptions {
  outbox: MailOutboxRepository;
  transport: MailTransport;
  policy: RetryPolicy;
  /** Each step with the smarthost; the lease of a batch follows from it. */
  timeoutMs: number;
  /** Sent and given-up mails are removed after this long. */
  keepMs: number;
  logger: Logger;
  events?: MailWorkerEvents;
  batchSize?: number;
  /** Longest sleep between looks at the outbox (mails queued by other replicas). */
  pollMs?: number;
  /** On stop, how long the mail in flight may take before its session is cut. */
  stopGraceMs?: number;
}

export interface BatchReport {
  readonly claimed: number;
  readonly sent: number;
  readonly deferred: number;
  readonly failed: number;
  readonly released: number;
}

export interface MailWorker {
  /** One batch now. */
  runOnce(): Promise<BatchReport>;
  /** Look at the outbox now (a mail was queued here). */
  wake(): void;
  start(): void;
  /** Finishes the message in flight (a few seconds at most), releases the rest of the batch. */
  stop(): Promise<void>;
}

const PRUNE_EVERY_MS = 10 * 60_000;
const UNAVAILABLE_REPEAT_MS = 5 * 60_000;

export function createMailWorker(options: MailWorkerOptions): MailWorker {
  const log = options.logger.child({ component: 'mail' });
  const batchSize = options.batchSize ?? 10;
  const pollMs = options.pollMs ?? 5_000;
  // Long enough for a whole batch at its slowest (connect, TLS, EHLO, AUTH, then
  // MAIL, RCPT, DATA and the final reply per message); past half of it, the rest waits.
  const leaseMs = Math.max(10 * 60_000, options.timeoutMs * (6 + 5 * batchSize));
  let stopping = false;
  let session: MailSession | undefined;
  /** Cuts a session still opening (a smarthost that takes the connection and never greets). */
  let opening: AbortController | undefined;
  let loop: Promise<void> | undefined;
  let running: Promise<BatchReport> | undefined;
  let wakeUp: (() => void) | undefined;
  let woken = false;
  let lastPrune = 0;
  /** The last "smarthost unavailable" warning: repeated at most every few minutes while it lasts. */
  let unavailable: { reason: string; at: number } | undefined;

  const describe = (error: unknown) =>
    redactAddresses(
      error instanceof SmtpRejection
        ? `${error.at.toUpperCase()} refused: ${describeReply(error.reply)}`
        : errorMessage(error),
    );

  const settle = async (mail: ClaimedMail, error: unknown, report: Counts) => {
    const reason = describe(error);
    const outcome = afterFailure(error, mail, options.policy);
    const who = { id: mail.id, kind: mail.kind, ...recipientForLog(mail.recipient), attempts: mail.attempts };
    if (outcome.kind === 'defer') {
      await options.outbox.defer(mail.id, outcome.delayMs, reason);
      report.deferred++;
      options.events?.onDeferred?.(mail.kind);
      // The first failure of a mail is worth a line; its retries are in the smarthost's warnings.
      log.log(mail.attempts === 1 ? 'info' : 'debug', 'mail not sent yet; trying again later', {
        ...who,
        retryInSeconds: outcome.delayMs / 1000,
        reason,
      });
    } else {
      await options.outbox.fail(mail.id, reason);
      report.failed++;
      options.events?.onFailed?.(mail.kind, outcome.reason);
      log.warn(
        outcome.reason === 'rejected'
          ? 'mail refused by the smarthost; given up'
          : 'mail not sent within MYDNS_MAIL_GIVE_UP; given up',
        { ...who, ageHours: Math.round(mail.ageMs / 360_000) / 10, reason },
      );
    }
  };

  const runBatch = async (): Promise<BatchReport> => {
    const mails = await options.outbox.claim(batchSize, leaseMs);
    const report: Counts = { claimed: mails.length, sent: 0, deferred: 0, failed: 0, released: 0 };
    if (mails.length === 0) return report;
    const started = Date.now();
    let broken: unknown;
    try {
      for (const [i, mail] of mails.entries()) {
        if (stopping || Date.now() - started > leaseMs / 2) {
          const rest = mails.slice(i).map((m) => m.id);
          await options.outbox.release(rest);
          report.released += rest.length;
          break;
        }
        if (broken !== undefined) {
          // The session failed on an earlier mail: this one waits with it (its attempt counts).
          await settle(mail, broken, report);
          continue;
        }
        try {
          if (!session) {
            opening = new AbortController();
            session = await options.transport.open(opening.signal);
          }
          await session.send(mail.recipient, mail.message);
        } catch (error) {
          // A refusal concerns this mail; anything else is the session's, and the rest of the batch waits.
          if (!(error instanceof SmtpRejection)) {
            broken = error;
            session?.abort();
            session = undefined;
            const reason = describe(error);
            if (unavailable?.reason !== reason || Date.now() - unavailable.at > UNAVAILABLE_REPEAT_MS) {
              log.warn(`smarthost unavailable; mails wait (${mails.length - i} in this batch)`, { reason });
              unavailable = { reason, at: Date.now() };
            }
          }
          await settle(mail, error, report);
          continue;
        }
        await options.outbox.markSent(mail.id);
        if (unavailable) {
          log.info('the smarthost takes mail again');
          unavailable = undefined;
        }
        report.sent++;
        options.events?.onSent?.(mail.kind);
        log.info('mail sent', {
          id: mail.id,
          kind: mail.kind,
          ...recipientForLog(mail.recipient),
          attempts: mail.attempts,
        });
      }
    } finally {
      opening = undefined;
      session?.close();
      session = undefined;
    }
    return report;
  };

  const runOnce = (): Promise<BatchReport> => {
    running ??= runBatch().finally(() => {
      running = undefined;
    });
    return running;
  };

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      if (woken || stopping) {
        woken = false;
        resolve();
        return;
      }
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wakeUp = undefined;
        woken = false;
        resolve();
      }
      wakeUp = done;
    });

  const prune = async () => {
    if (Date.now() - lastPrune < PRUNE_EVERY_MS) return;
    lastPrune = Date.now();
    const removed = await options.outbox.prune(options.keepMs);
    if (removed > 0) log.debug(`removed ${removed} old mails from the outbox history`);
  };

  const work = async () => {
    while (!stopping) {
      let wait = pollMs;
      try {
        const report = await runOnce();
        // A full batch: more may be due at once.
        if (report.claimed >= batchSize) continue;
        await prune();
        const next = await options.outbox.nextDueInMs();
        if (next !== undefined) wait = Math.min(pollMs, Math.max(50, next));
      } catch (error) {
        // Postgres away: the mails wait in it; look again later.
        log.warn(`mail outbox unavailable: ${errorMessage(error)}`);
      }
      await sleep(wait);
    }
  };

  return {
    runOnce,
    wake() {
      woken = true;
      wakeUp?.();
    },
    start() {
      loop ??= work().catch((error: unknown) => {
        log.error('the mail worker stopped', error);
      });
    },
    async stop() {
      stopping = true;
      wakeUp?.();
      const inFlight = running;
      if (inFlight) {
        const timer = setTimeout(() => {
          opening?.abort();
          session?.abort();
        }, options.stopGraceMs ?? 5_000);
        await inFlight.catch(() => undefined);
        clearTimeout(timer);
      }
      await loop;
    },
  };
}

type Counts = { -readonly [K in keyof BatchReport]: BatchReport[K] };

import type { Knex } from 'knex';
import type { Database } from './database.ts';
import { createOutboxRows, intervalSeconds } from './outbox-rows.ts';

/**
 * The outbound mail queue (migration 20261202090000). Times are Postgres's
 * (`now()`), never a replica's clock, so replicas with skewed clocks agree
 * on what is due.
 */
export interface ClaimedMail {
  readonly id: number;
  readonly kind: string;
  readonly recipient: string;
  readonly message: string;
  /** Attempts so far, this one included. */
  readonly attempts: number;
  /** How long ago the mail was queued, by Postgres's clock. */
  readonly ageMs: number;
}

export interface MailQueueStats {
  readonly queued: number;
  /** Age of the oldest mail still queued (0 when none): grows while the smarthost is away. */
  readonly oldestQueuedSeconds: number;
  /** How long the most overdue mail has been due (0 when none): grows when no worker works. */
  readonly overdueSeconds: number;
}

export interface NewMail {
  readonly kind: string;
  readonly recipient: string;
  readonly message: string;
  readonly dedupeKey?: string | undefined;
}

export interface MailOutboxRepository {
  /** Queues a mail (in `trx` when given); undefined when a row with its dedupe key is kept already. */
  insert(mail: NewMail, trx?: Knex.Transaction): Promise<number | undefined>;
  /**
   * Takes up to `limit` due mails that no other worker holds (`skip locked`)
   * and leases them for `leaseMs`: counted as attempted, due again after the
   * lease unless marked before.
   */
  claim(limit: number, leaseMs: number): Promise<ClaimedMail[]>;
  markSent(id: number): Promise<void>;
  /** Due again in `delayMs`; the error is kept for the operator. */
  defer(id: number, delayMs: number, error: string): Promise<void>;
  /** Given up: kept (without its text) for the history. */
  fail(id: number, error: string): Promise<void>;
  /** Claimed but not attempted (the worker stops): due now, the attempt not counted. */
  release(ids: readonly number[]): Promise<void>;
  /** Removes sent and given-up mails finished more than `keepMs` ago. */
  prune(keepMs: number): Promise<number>;
  stats(): Promise<MailQueueStats>;
  /** Milliseconds until the next queued mail is due (≤ 0: now); undefined when none is queued. */
  nextDueInMs(): Promise<number | undefined>;
}

export function createMailOutboxRepository(db: Database): MailOutboxRepository {
  const outboxRows = createOutboxRows(db, 'mail_outbox');
  return {
    async insert(mail, trx) {
      const rows: { id: number }[] = await (trx ?? db)('mail_outbox')
        .insert({
          kind: mail.kind,
          recipient: mail.recipient,
          message: mail.message,
          dedupe_key: mail.dedupeKey ?? null,
        })
        .onConflict('dedupe_key')
        .ignore()
        .returning('id');
      return rows[0]?.id;
    },
    async claim(limit, leaseMs) {
      const { rows } = await db.raw<{
        rows: {
          id: number;
          kind: string;
          recipient: string;
          message: string;
          attempts: number;
          age_ms: number;
        }[];
      }>(
        `update mail_outbox m
            set attempts = m.attempts + 1,
                next_attempt_at = now() + make_interval(secs => ?)
           from (select id from mail_outbox
                  where status = 'queued' and next_attempt_at <= now()
                  order by next_attempt_at, id
                  limit ?
                  for update skip locked) due
          where m.id = due.id
      returning m.id, m.kind, m.recipient, m.message, m.attempts,
                (extract(epoch from now() - m.created_at) * 1000)::float8 as age_ms`,
        [intervalSeconds(leaseMs), Math.max(1, Math.floor(limit))],
      );
      return rows
        .map((row) => ({
          id: row.id,
          kind: row.kind,
          recipient: row.recipient,
          message: row.message,
          attempts: row.attempts,
          ageMs: row.age_ms,
        }))
        .sort((a, b) => a.id - b.id);
    },
    async markSent(id) {
      await db('mail_outbox').where({ id, status: 'queued' }).update({
        status: 'sent',
        message: null,
        last_error: null,
        finished_at: db.fn.now(),
      });
    },
    async defer(id, delayMs, error) {
      await db('mail_outbox')
        .where({ id, status: 'queued' })
        .update({
          next_attempt_at: db.raw('now() + make_interval(secs => ?)', [intervalSeconds(delayMs)]),
          last_error: error,
        });
    },
    async fail(id, error) {
      await db('mail_outbox').where({ id, status: 'queued' }).update({
        status: 'failed',
        message: null,
        last_error: error,
        finished_at: db.fn.now(),
      });
    },
    release: outboxRows.release,
    prune: outboxRows.prune,
    async stats() {
      const { rows } = await db.raw<{
        rows: { queued: number; oldest: number | null; overdue: number | null }[];
      }>(
        `select count(*)::int as queued,
                extract(epoch from now() - min(created_at))::float8 as oldest,
                extract(epoch from now() - min(next_attempt_at) filter (where next_attempt_at <= now()))::float8
                  as overdue
           from mail_outbox
          where status = 'queued'`,
      );
      const row = rows[0];
      return {
        queued: row?.queued ?? 0,
        oldestQueuedSeconds: Math.max(0, row?.oldest ?? 0),
        overdueSeconds: Math.max(0, row?.overdue ?? 0),
      };
    },
    async nextDueInMs() {
      const { rows } = await db.raw<{ rows: { ms: number | null }[] }>(
        `select (extract(epoch from min(next_attempt_at) - now()) * 1000)::float8 as ms
           from mail_outbox
          where status = 'queued'`,
      );
      const ms = rows[0]?.ms;
      return ms === null || ms === undefined ? undefined : ms;
    },
  };
}

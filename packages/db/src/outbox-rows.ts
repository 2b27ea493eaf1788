import type { Database } from './database.ts';

/**
 * What the outboxes (mail_outbox, webhook_events) do alike with their rows:
 * a row is `queued` until it is finished (`finished_at`), `next_attempt_at`
 * is when it is due, and `attempts` counts the claims. Times are Postgres's.
 */
export interface OutboxRows {
  /** Claimed but not attempted (the worker stops): due now, the attempt not counted. */
  release(ids: readonly number[]): Promise<void>;
  /** Removes finished rows finished more than `keepMs` ago. */
  prune(keepMs: number): Promise<number>;
}

/** Milliseconds as the seconds of `make_interval(secs => ?)`. */
export const intervalSeconds = (ms: number): number => Math.max(0, ms) / 1000;

export function createOutboxRows(db: Database, table: 'mail_outbox' | 'webhook_events'): OutboxRows {
  return {
    async release(ids) {
      if (ids.length === 0) return;
      await db(table)
        .whereIn('id', ids as number[])
        .andWhere({ status: 'queued' })
        .update({ next_attempt_at: db.fn.now(), attempts: db.raw('greatest(attempts - 1, 0)') });
    },
    async prune(keepMs) {
      return db(table)
        .whereNot({ status: 'queued' })
        .andWhere('finished_at', '<', db.raw('now() - make_interval(secs => ?)', [intervalSeconds(keepMs)]))
        .delete();
    },
  };
}

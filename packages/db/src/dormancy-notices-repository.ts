import type { Database } from './database.ts';

/**
 * Dormancy mails (migration 20261207100000): the hosts with notices on whose
 * warning or dormant notice is due in their current period of inactivity.
 * Each take claims the hosts in one statement (`for update skip locked`, and
 * the claim re-checked on the locked row), in the caller's transaction with
 * the mails queued in the same one: two passes at once (two replicas) claim
 * each host once, and a crash neither loses nor repeats a mail.
 */
export interface DormancyMailDue {
  readonly hostId: number;
  readonly zone: string;
  readonly name: string;
  readonly email: string;
  /** The host's last successful update (or its creation): the start of its inactivity. */
  readonly lastActivity: Date;
}

export interface DormancyNoticesRepository {
  /**
   * In `trx`: up to `limit` active hosts with notices on, held by a verified
   * account, last active before `warnBefore` but not before `dormantBefore`
   * (those go dormant in this pass: they get the notice instead), not yet
   * warned in this period; each is marked warned.
   */
  takeWarnings(
    trx: Database,
    window: { warnBefore: Date; dormantBefore: Date },
    limit: number,
  ): Promise<DormancyMailDue[]>;
  /** In `trx`: up to `limit` dormant hosts with notices on, not yet told in this period; each is marked told. */
  takeDormant(trx: Database, limit: number): Promise<DormancyMailDue[]>;
}

interface DueRow {
  id: number;
  zone: string;
  name: string;
  email: string;
  last_activity: Date;
}

const ACTIVITY = 'coalesce(h.last_seen_at, h.created_at)';

// The conditions include the partial indexes' predicates (migration
// 20261207100000): Postgres uses a partial index only for a query whose WHERE
// implies its predicate.
const TAKE_WARNINGS = `
  with due as (
    select h.id, a.email from hosts h join accounts a on a.id = h.account_id
     where h.notify_email and h.status = 'active'
       and h.dormancy_warned_for is distinct from ${ACTIVITY}
       and ${ACTIVITY} < ? and ${ACTIVITY} >= ?
       and a.email_verified_at is not null
     order by ${ACTIVITY}
     limit ?
       for update of h skip locked
  )
  update hosts h set dormancy_warned_for = ${ACTIVITY}
    from due where h.id = due.id
  returning h.id, h.zone, h.name, due.email, ${ACTIVITY} as last_activity`;

const TAKE_DORMANT = `
  with due as (
    select h.id, a.email from hosts h join accounts a on a.id = h.account_id
     where h.notify_email and h.status = 'dormant'
       and h.dormancy_told_for is distinct from ${ACTIVITY}
       and a.email_verified_at is not null
     order by h.id
     limit ?
       for update of h skip locked
  )
  update hosts h set dormancy_told_for = ${ACTIVITY}
    from due where h.id = due.id
  returning h.id, h.zone, h.name, due.email, ${ACTIVITY} as last_activity`;

const toDue = (row: DueRow): DormancyMailDue => ({
  hostId: Number(row.id),
  zone: row.zone,
  name: row.name,
  email: row.email,
  lastActivity: row.last_activity,
});

export function createDormancyNoticesRepository(): DormancyNoticesRepository {
  return {
    async takeWarnings(trx, window, limit) {
      const { rows } = await trx.raw<{ rows: DueRow[] }>(TAKE_WARNINGS, [
        window.warnBefore,
        window.dormantBefore,
        limit,
      ]);
      return rows.map(toDue);
    },
    async takeDormant(trx, limit) {
      const { rows } = await trx.raw<{ rows: DueRow[] }>(TAKE_DORMANT, [limit]);
      return rows.map(toDue);
    },
  };
}

/** The two claims, for EXPLAIN in the tests: each must use its partial index, never read every host. */
export const DORMANCY_QUERIES = { warnings: TAKE_WARNINGS, dormant: TAKE_DORMANT } as const;

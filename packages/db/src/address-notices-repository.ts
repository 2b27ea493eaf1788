import type { Database } from './database.ts';

/**
 * Address-change notices (migration 20261206100000): which hosts have them
 * on, and the changes due to be told. Taking a due change and recording it as
 * told happen in the caller's transaction, with the mail queued in the same
 * one (the outbox takes a transaction), so a crash neither loses nor repeats
 * a notice; `skip locked` lets replicas share the work.
 */
export interface DueNotice {
  readonly hostId: number;
  readonly zone: string;
  readonly name: string;
  readonly email: string;
  readonly old: { readonly ipv4: string | null; readonly ipv6: string | null };
  readonly new: { readonly ipv4: string | null; readonly ipv6: string | null };
}

export interface AddressNoticesRepository {
  /** On: the current address is the one already told (only later changes are mailed). */
  setEmail(hostId: number, on: boolean): Promise<void>;
  isOn(hostId: number): Promise<boolean>;
  /**
   * In `trx`: up to `limit` hosts whose address differs from the one told,
   * told at least `intervalMs` before `now` (or never), held by a verified
   * account; each is marked told (the current address, at `now`).
   */
  takeDue(trx: Database, now: Date, intervalMs: number, limit: number): Promise<DueNotice[]>;
}

export function createAddressNoticesRepository(db: Database): AddressNoticesRepository {
  return {
    async setEmail(hostId, on) {
      await db('hosts')
        .where({ id: hostId })
        .update(
          on
            ? {
                notify_email: true,
                notified_ipv4: db.ref('ipv4'),
                notified_ipv6: db.ref('ipv6'),
                notified_at: null,
              }
            : { notify_email: false },
        );
    },
    async isOn(hostId) {
      const row = await db('hosts').where({ id: hostId }).first('notify_email');
      return Boolean(row?.notify_email);
    },
    async takeDue(trx, now, intervalMs, limit) {
      const { rows } = await trx.raw<{
        rows: {
          id: number;
          zone: string;
          name: string;
          email: string;
          old_ipv4: string | null;
          old_ipv6: string | null;
          ipv4: string | null;
          ipv6: string | null;
        }[];
      }>(
        `with due as (
           select h.id, a.email, h.notified_ipv4 as old_ipv4, h.notified_ipv6 as old_ipv6
             from hosts h join accounts a on a.id = h.account_id
            where h.notify_email and a.email_verified_at is not null
              and (h.ipv4, h.ipv6) is distinct from (h.notified_ipv4, h.notified_ipv6)
              and (h.notified_at is null or h.notified_at <= ?::timestamptz - ? * interval '1 millisecond')
            order by h.id
            limit ?
              for update of h skip locked
         )
         update hosts h set notified_ipv4 = h.ipv4, notified_ipv6 = h.ipv6, notified_at = ?
           from due where h.id = due.id
         returning h.id, h.zone, h.name, due.email, due.old_ipv4, due.old_ipv6, h.ipv4, h.ipv6`,
        [now, intervalMs, limit, now],
      );
      return rows.map((row) => ({
        hostId: row.id,
        zone: row.zone,
        name: row.name,
        email: row.email,
        old: { ipv4: row.old_ipv4, ipv6: row.old_ipv6 },
        new: { ipv4: row.ipv4, ipv6: row.ipv6 },
      }));
    },
  };
}

import { oneAtATimePerKey } from '@mydns/runtime';
import type { Database } from './database.ts';
import type { HostKey } from './hosts-repository.ts';

/** ACME DNS-01 values: TXT records at `_acme-challenge.<host>`, each expiring after a while. */
export interface AcmeRepository {
  /**
   * Adds (or refreshes) a value and queues the host for PowerDNS; returns the
   * outbox id, or undefined when the host already holds `max` other live values.
   * The host's row is locked for the check, so parallel adds cannot pass it together.
   */
  add(host: { id: number } & HostKey, value: string, ttlMs: number, max: number): Promise<number | undefined>;
  /** Removes one value; undefined when there was no such value. */
  remove(host: { id: number } & HostKey, value: string): Promise<number | undefined>;
  count(hostId: number): Promise<number>;
  /** Deletes expired values and queues their hosts (in every zone); returns the hosts. */
  expire(now: Date): Promise<HostKey[]>;
}

export function createAcmeRepository(db: Database): AcmeRepository {
  // One transaction per host at a time from this process: the others wait here, not on the pool.
  const perHost = oneAtATimePerKey<number>();
  return {
    async add(host, value, ttlMs, max) {
      return perHost(host.id, () =>
        db.transaction(async (trx) => {
          await trx('hosts').where({ id: host.id }).forUpdate().first('id');
          const others = await trx('acme_challenges')
            .where({ host_id: host.id })
            .andWhere('expires_at', '>', trx.fn.now())
            .andWhereNot({ value })
            .count<{ count: string }[]>({ count: '*' })
            .first();
          if (Number(others?.count ?? 0) >= max) return undefined;
          await trx('acme_challenges')
            .insert({ host_id: host.id, value, expires_at: new Date(Date.now() + ttlMs) })
            .onConflict(['host_id', 'value'])
            .merge(['expires_at']);
          const [row] = await trx('dns_outbox').insert({ zone: host.zone, name: host.name }).returning('id');
          return (row as { id: number }).id;
        }),
      );
    },
    async remove(host, value) {
      return db.transaction(async (trx) => {
        const removed = await trx('acme_challenges').where({ host_id: host.id, value }).delete();
        if (removed === 0) return undefined;
        const [row] = await trx('dns_outbox').insert({ zone: host.zone, name: host.name }).returning('id');
        return (row as { id: number }).id;
      });
    },
    async count(hostId) {
      const row = await db('acme_challenges')
        .where({ host_id: hostId })
        .andWhere('expires_at', '>', db.fn.now())
        .count<{ count: string }[]>({ count: '*' })
        .first();
      return Number(row?.count ?? 0);
    },
    async expire(now) {
      const result = await db.raw<{ rows: HostKey[] }>(
        `with expired as (
           delete from acme_challenges a using hosts h
            where a.host_id = h.id and a.expires_at <= ?
           returning h.zone, h.name
         ), names as (
           select distinct zone, name from expired
         ), queued as (
           insert into dns_outbox (zone, name) select zone, name from names
         )
         select zone, name from names order by zone, name`,
        [now],
      );
      return result.rows.map((row) => ({ zone: row.zone, name: row.name }));
    },
  };
}

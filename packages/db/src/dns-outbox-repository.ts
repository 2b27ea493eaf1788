import type { HostDnsState, HostStatus } from '@mydns/domain';
import type { Database } from './database.ts';

/**
 * The zone writer's view of Postgres (packages/powerdns zone-writer.ts): the
 * outbox of pending pushes and the host rows they project, under a per-zone
 * advisory lock so only one writer in all replicas PATCHes a zone at a time.
 */
export function createDnsOutboxStore(db: Database) {
  return {
    withZoneLock<T>(
      zone: string,
      work: (tx: {
        pending(limit: number): Promise<{ id: number; name: string }[]>;
        hostStates(names: readonly string[]): Promise<HostDnsState[]>;
        complete(ids: readonly number[]): Promise<void>;
      }) => Promise<T>,
    ): Promise<T> {
      return db.transaction(async (trx) => {
        await trx.raw('select pg_advisory_xact_lock(hashtext(?))', [`mydns-zone-writer:${zone}`]);
        return work({
          async pending(limit) {
            return trx('dns_outbox').select('id', 'name').orderBy('id').limit(limit);
          },
          async hostStates(names) {
            const rows: {
              name: string;
              ipv4: string | null;
              ipv6: string | null;
              status: HostStatus;
              mail_enabled: boolean;
              acme: string[];
            }[] = (
              await trx.raw(
                `select h.name, h.ipv4, h.ipv6, h.status, h.mail_enabled,
                        coalesce(array_agg(a.value order by a.value) filter (where a.value is not null), '{}') as acme
                   from hosts h
                   left join acme_challenges a on a.host_id = h.id and a.expires_at > now()
                  where h.name = any(?)
                  group by h.id`,
                [names as string[]],
              )
            ).rows;
            return rows.map((row) => ({
              name: row.name,
              ipv4: row.ipv4,
              ipv6: row.ipv6,
              status: row.status,
              acme: row.acme,
              mailEnabled: row.mail_enabled,
            }));
          },
          async complete(ids) {
            await trx('dns_outbox')
              .whereIn('id', ids as number[])
              .delete();
          },
        });
      });
    },
    async stillPending(ids: readonly number[]): Promise<Set<number>> {
      const rows: { id: number }[] = await db('dns_outbox')
        .select('id')
        .whereIn('id', ids as number[]);
      return new Set(rows.map((row) => row.id));
    },
    async pendingCount(): Promise<number> {
      const row = await db('dns_outbox').count<{ count: string }[]>({ count: '*' }).first();
      return Number(row?.count ?? 0);
    },
  };
}

import type { HostDnsState, HostStatus, OwnerRecord } from '@mydns/domain';
import pg from 'pg';
import { type Database, transactionOpenedWith } from './database.ts';

/**
 * The zone writer's view of Postgres (packages/powerdns zone-writer.ts): the
 * outbox of pending pushes and the host rows they project, under a per-zone
 * advisory lock so only one writer in all replicas PATCHes a zone at a time.
 * Everything inside `withZoneLock(zone, …)` is of that zone only: each zone
 * has its own writer, and a label may exist in several zones.
 */
export function createDnsOutboxStore(db: Database) {
  return {
    withZoneLock<T>(
      zone: string,
      work: (tx: {
        pending(limit: number): Promise<{ id: number; name: string; stale?: readonly string[] }[]>;
        hostStates(names: readonly string[]): Promise<HostDnsState[]>;
        complete(ids: readonly number[]): Promise<void>;
      }) => Promise<T>,
    ): Promise<T> {
      return db.transaction(async (trx) => {
        // What this transaction commits is bookkeeping (pushed rows leave the
        // outbox): no need to wait for the WAL flush. Lost in a crash, the rows
        // come back and are pushed again, which changes nothing in PowerDNS.
        await trx.raw(
          `select set_config('synchronous_commit', 'off', true), pg_advisory_xact_lock(hashtext(?))`,
          [`mydns-zone-writer:${zone}`],
        );
        return work({
          async pending(limit) {
            const rows: { id: number; name: string; stale: string[] | null }[] = await trx('dns_outbox')
              .select('id', 'name', 'stale')
              .where({ zone })
              .orderBy('id')
              .limit(limit);
            return rows.map((row) =>
              row.stale ? { id: row.id, name: row.name, stale: row.stale } : { id: row.id, name: row.name },
            );
          },
          hostStates: (names) => selectHostStates(trx, zone, { names }),
          async complete(ids) {
            await trx('dns_outbox')
              .whereIn('id', ids as number[])
              .delete();
          },
        });
      });
    },
    /**
     * The zone writer's cycle (packages/powerdns zone-writer.ts): BEGIN, the
     * lock and the read of the batch in one round trip, since at light load
     * an update waits for each round trip in turn (README "Benchmarks", the
     * write path; test/integration/write-path.test.ts counts them).
     */
    withPendingBatch<T>(
      zone: string,
      which: { limit: number; first?: readonly number[] },
      work: (
        batch: { entries: { id: number; name: string; stale?: readonly string[] }[]; states: HostDnsState[] },
        tx: { complete(ids: readonly number[]): Promise<void> },
      ) => Promise<T>,
    ): Promise<T> {
      const opening = [
        'begin',
        // Bookkeeping, as in withZoneLock: no need to wait for the WAL flush.
        `select set_config('synchronous_commit', 'off', true), pg_advisory_xact_lock(hashtext(${pg.escapeLiteral(`mydns-zone-writer:${zone}`)}))`,
        pendingBatchQuery(zone, which.limit, which.first),
      ].join(';\n');
      return transactionOpenedWith(db, opening, async (opened, query) => {
        const rows = (opened[2] ?? []) as PendingBatchRow[];
        const entries = rows.map((row) =>
          row.stale
            ? { id: row.id, name: row.outbox_name, stale: row.stale }
            : { id: row.id, name: row.outbox_name },
        );
        const states = rows.flatMap((row) => (row.name === null ? [] : [stateOf(row as HostStateRow)]));
        return work(
          { entries, states },
          {
            async complete(ids) {
              await query('', 'delete from dns_outbox where id = any($1::bigint[])', [ids]);
            },
          },
        );
      });
    },
    async stillPending(ids: readonly number[]): Promise<Set<number>> {
      const rows: { id: number }[] = await db('dns_outbox')
        .select('id')
        .whereIn('id', ids as number[]);
      return new Set(rows.map((row) => row.id));
    },
    /** A page of every host's DNS state in `zone`, in name order (the reconciler walks them all). */
    allHostStates: (zone: string, after: string | undefined, limit: number) =>
      selectHostStates(db, zone, { after, limit }),
    /** The zones with changes waiting, served or not (a retired zone's removals, say). */
    async pendingZones(): Promise<string[]> {
      const rows: { zone: string }[] = await db('dns_outbox').distinct('zone').orderBy('zone');
      return rows.map((row) => row.zone);
    },
    /** Drops what is pending for a zone PowerDNS does not have (there is nothing there to change). */
    async discardPending(zone: string): Promise<number> {
      return db('dns_outbox').where({ zone }).delete();
    },
    async pendingCount(): Promise<number> {
      const row = await db('dns_outbox').count<{ count: string }[]>({ count: '*' }).first();
      return Number(row?.count ?? 0);
    },
  };
}

interface HostStateRow {
  name: string;
  ipv4: string | null;
  ipv6: string | null;
  status: HostStatus;
  mail_enabled: boolean;
  wildcard: boolean;
  ipv6_prefix: string | null;
  acme: string[];
  records: OwnerRecord[];
}

/**
 * What the PowerDNS projection needs of the hosts of one zone: addresses,
 * status, mail forwarding, unexpired ACME values, the wildcard, the identifier
 * prefix and the owner's records. Either for some names, or
 * a page of all hosts in name order (for the reconciler).
 */
export async function selectHostStates(
  db: Database,
  zone: string,
  which: { names: readonly string[] } | { after: string | undefined; limit: number },
): Promise<HostDnsState[]> {
  const { sql, bindings } = hostStatesQuery(zone, which);
  const { rows } = await db.raw<{ rows: HostStateRow[] }>(sql, bindings as never);
  return rows.map(stateOf);
}

const stateOf = (row: HostStateRow): HostDnsState => ({
  name: row.name,
  ipv4: row.ipv4,
  ipv6: row.ipv6,
  status: row.status,
  acme: row.acme,
  mailEnabled: row.mail_enabled,
  wildcard: row.wildcard,
  ipv6Prefix: row.ipv6_prefix,
  records: row.records,
});

/** The projection's columns of `chosen h`, the hosts picked first (see hostStatesQuery). */
const STATE_COLUMNS = `h.name, h.ipv4, h.ipv6, h.status, h.mail_enabled, h.wildcard, h.ipv6_prefix,
            coalesce((select array_agg(a.value order by a.value) from acme_challenges a
                       where a.host_id = h.id and a.expires_at > now()), '{}') as acme,
            coalesce((select json_agg(json_build_object('subname', r.subname, 'type', r.type,
                                                        'content', r.content, 'ttl', r.ttl) order by r.id)
                        from host_records r where r.host_id = h.id), '[]') as records`;
const CHOSEN_COLUMNS = 'id, name, ipv4, ipv6, status, mail_enabled, wildcard, ipv6_prefix';

/** A row of pendingBatchQuery: an outbox row, with its host's state on the first row of each host. */
type PendingBatchRow = { id: number; outbox_name: string; stale: string[] | null } & (
  | HostStateRow
  | { [K in keyof HostStateRow]: null }
);

/**
 * The oldest `limit` outbox rows of `zone` and their hosts' states, in one
 * statement, so in one snapshot: the states are those of the rows' hosts as
 * they are after the entries were read (two statements could see a host
 * without its row). Each host's state comes once, on its first row; a host
 * without a row (deleted) has none. No parameters: it is part of the zone
 * writer's opening (transactionOpenedWith), hence the quoted literals.
 *
 * The rows `first` names (those a request is waiting for) come before the
 * oldest, so an update is not answered after a backlog nobody waits for (the
 * dormancy job's, an import's). Order between rows does not matter for what
 * PowerDNS ends up with: every push writes a host's rrsets from its row as it
 * is now, and a row's stale owner rrsets are computed the same way whenever it
 * goes.
 */
export function pendingBatchQuery(zone: string, limit: number, first: readonly number[] = []): string {
  const z = pg.escapeLiteral(zone);
  const n = Math.max(1, Math.floor(limit));
  const ids = first.filter((id) => Number.isSafeInteger(id));
  const oldest = `select id, name, stale from dns_outbox where zone = ${z} order by id limit ${n}`;
  const chosenRows =
    ids.length === 0
      ? oldest
      : `select id, name, stale from (
           select distinct on (id) id, name, stale, pass from (
             select id, name, stale, 0 as pass from dns_outbox
              where zone = ${z} and id = any('{${ids.join(',')}}'::bigint[])
             union all
             select id, name, stale, 1 from (${oldest}) oldest
           ) candidates order by id, pass
         ) distinct_rows order by pass, id limit ${n}`;
  return `with pending as materialized (
       select id, name, stale, row_number() over (partition by name order by id) as nth
         from (${chosenRows}) batch
     ), chosen as (
       select ${CHOSEN_COLUMNS} from hosts
        where zone = ${z} and name in (select name from pending where nth = 1)
     )
     select p.id, p.name as outbox_name, p.stale, ${STATE_COLUMNS}
       from pending p left join chosen h on h.name = p.name and p.nth = 1
      order by p.id`;
}

/**
 * The statement behind selectHostStates (exported for the test of its plan).
 * The hosts are chosen first (for a page: by the (zone, name) index, stopping
 * at the limit) and only then joined to their ACME values: grouping the join
 * before the limit made Postgres aggregate every later host of the zone for
 * each page, so one reconciler pass over a million hosts read ~10^11 rows.
 */
export function hostStatesQuery(
  zone: string,
  which: { names: readonly string[] } | { after: string | undefined; limit: number },
): { sql: string; bindings: unknown[] } {
  const where = 'names' in which ? 'zone = ? and name = any(?)' : 'zone = ? and name > ?';
  const bindings: unknown[] = 'names' in which ? [zone, which.names as string[]] : [zone, which.after ?? ''];
  const limit = 'names' in which ? '' : `order by name limit ${Math.max(1, Math.floor(which.limit))}`;
  const sql = `with chosen as (
       select ${CHOSEN_COLUMNS} from hosts where ${where} ${limit}
     )
     select ${STATE_COLUMNS}
       from chosen h
      order by h.name`;
  return { sql, bindings };
}

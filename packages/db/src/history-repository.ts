import type { Database } from './database.ts';

export interface HistoryEntry {
  readonly hostId: number;
  readonly at: Date;
  readonly sourceAddress: string;
  readonly userAgent: string | null;
  readonly result: string;
  readonly oldIpv4: string | null;
  readonly oldIpv6: string | null;
  readonly newIpv4: string | null;
  readonly newIpv6: string | null;
}

export interface HistoryRepository {
  insertMany(entries: readonly HistoryEntry[]): Promise<void>;
  latest(hostId: number, limit: number): Promise<Omit<HistoryEntry, 'hostId'>[]>;
  /** Keeps at most `maxPerHost` entries per host, none older than `before`. Returns how many went. */
  prune(options: { maxPerHost: number; before: Date }): Promise<number>;
}

interface HistoryRow {
  at: Date;
  source_address: string;
  user_agent: string | null;
  result: string;
  old_ipv4: string | null;
  old_ipv6: string | null;
  new_ipv4: string | null;
  new_ipv6: string | null;
}

export function createHistoryRepository(db: Database): HistoryRepository {
  return {
    async insertMany(entries) {
      if (entries.length === 0) return;
      // Entries of a host deleted meanwhile are dropped (the foreign key would refuse them).
      await db.raw(
        `insert into update_history
           (host_id, at, source_address, user_agent, result, old_ipv4, old_ipv6, new_ipv4, new_ipv6)
         select e.host_id, e.at, e.source_address, e.user_agent, e.result, e.old_ipv4, e.old_ipv6, e.new_ipv4, e.new_ipv6
           from jsonb_to_recordset(?::jsonb) as e(host_id bigint, at timestamptz, source_address text,
                user_agent text, result text, old_ipv4 text, old_ipv6 text, new_ipv4 text, new_ipv6 text)
          where exists (select 1 from hosts h where h.id = e.host_id)`,
        [
          JSON.stringify(
            entries.map((e) => ({
              host_id: e.hostId,
              at: e.at.toISOString(),
              source_address: e.sourceAddress,
              user_agent: e.userAgent,
              result: e.result,
              old_ipv4: e.oldIpv4,
              old_ipv6: e.oldIpv6,
              new_ipv4: e.newIpv4,
              new_ipv6: e.newIpv6,
            })),
          ),
        ],
      );
    },
    async latest(hostId, limit) {
      const rows: HistoryRow[] = await db('update_history')
        .select(
          'at',
          'source_address',
          'user_agent',
          'result',
          'old_ipv4',
          'old_ipv6',
          'new_ipv4',
          'new_ipv6',
        )
        .where({ host_id: hostId })
        .orderBy([
          { column: 'at', order: 'desc' },
          { column: 'id', order: 'desc' },
        ])
        .limit(limit);
      return rows.map((row) => ({
        at: row.at,
        sourceAddress: row.source_address,
        userAgent: row.user_agent,
        result: row.result,
        oldIpv4: row.old_ipv4,
        oldIpv6: row.old_ipv6,
        newIpv4: row.new_ipv4,
        newIpv6: row.new_ipv6,
      }));
    },
    async prune({ maxPerHost, before }) {
      if (maxPerHost === 0) return db('update_history').delete();
      const old = await db('update_history').where('at', '<', before).delete();
      const result = await db.raw<{ rowCount: number }>(
        `delete from update_history where id in (
           select id from (
             select id, row_number() over (partition by host_id order by at desc, id desc) as n
               from update_history
           ) ranked where n > ?
         )`,
        [maxPerHost],
      );
      return old + (result.rowCount ?? 0);
    },
  };
}

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
  /** Why the update was refused, in a person's words (null when it was not). */
  readonly reason?: string | null;
  /** Identical attempts this entry stands for (repeated nochg), and when the last one was. */
  readonly count?: number;
  readonly lastAt?: Date;
}

export interface HistoryRepository {
  /** Writes entries; a nochg identical to the host's latest entry (within an hour) is counted on it. */
  insertMany(entries: readonly HistoryEntry[]): Promise<void>;
  latest(
    hostId: number,
    limit: number,
  ): Promise<(Omit<HistoryEntry, 'hostId' | 'count'> & { count: number })[]>;
  /** Keeps at most `maxPerHost` entries per host, none older than `before`. Returns how many went. */
  prune(options: { maxPerHost: number; before: Date }): Promise<number>;
}

interface HistoryRow {
  at: Date;
  last_at: Date | null;
  count: number;
  source_address: string;
  user_agent: string | null;
  result: string;
  old_ipv4: string | null;
  old_ipv6: string | null;
  new_ipv4: string | null;
  new_ipv6: string | null;
  reason: string | null;
}

/** Two attempts that say the same: a repeat is counted, not stored again. */
export function isRepeat(a: HistoryEntry, b: HistoryEntry): boolean {
  return (
    a.hostId === b.hostId &&
    a.result === 'nochg' &&
    b.result === 'nochg' &&
    a.sourceAddress === b.sourceAddress &&
    a.userAgent === b.userAgent &&
    a.newIpv4 === b.newIpv4 &&
    a.newIpv6 === b.newIpv6 &&
    (a.reason ?? null) === (b.reason ?? null)
  );
}

// One statement per batch: bump the host's latest row where the entry repeats
// it, insert the rest. Entries of a host deleted meanwhile are dropped.
const INSERT_OR_COUNT = `
  with e as (
    select * from jsonb_to_recordset(?::jsonb) as e(
      i int, host_id bigint, at timestamptz, last_at timestamptz, count int, source_address text,
      user_agent text, result text, old_ipv4 text, old_ipv6 text, new_ipv4 text, new_ipv6 text,
      reason text)
  ), latest as (
    select distinct on (h.host_id) h.id, h.host_id, h.result, h.source_address, h.user_agent,
           h.new_ipv4, h.new_ipv6, coalesce(h.last_at, h.at) as seen
      from update_history h
     where h.host_id in (select host_id from e where e.result = 'nochg')
     order by h.host_id, h.at desc, h.id desc
  ), firsts as (
    select distinct on (host_id) * from e order by host_id, i
  ), repeats as (
    select f.i, l.id, f.count, coalesce(f.last_at, f.at) as last_at
      from firsts f join latest l on l.host_id = f.host_id
     where f.result = 'nochg' and l.result = 'nochg' and l.source_address = f.source_address
       and l.user_agent is not distinct from f.user_agent
       and l.new_ipv4 is not distinct from f.new_ipv4 and l.new_ipv6 is not distinct from f.new_ipv6
       and f.at - l.seen < interval '1 hour'
  ), bumped as (
    update update_history u set count = u.count + r.count, last_at = greatest(coalesce(u.last_at, u.at), r.last_at)
      from repeats r where u.id = r.id
    returning r.i
  )
  insert into update_history
    (host_id, at, last_at, count, source_address, user_agent, result, old_ipv4, old_ipv6, new_ipv4, new_ipv6,
     reason)
  select e.host_id, e.at, e.last_at, e.count, e.source_address, e.user_agent, e.result,
         e.old_ipv4, e.old_ipv6, e.new_ipv4, e.new_ipv6, e.reason
    from e
   where e.i not in (select i from bumped)
     and exists (select 1 from hosts h where h.id = e.host_id)
   order by e.i`;

export function createHistoryRepository(db: Database): HistoryRepository {
  return {
    async insertMany(entries) {
      if (entries.length === 0) return;
      await db.raw(INSERT_OR_COUNT, [
        JSON.stringify(
          entries.map((e, i) => ({
            i,
            host_id: e.hostId,
            at: e.at.toISOString(),
            last_at: e.lastAt?.toISOString() ?? null,
            count: e.count ?? 1,
            source_address: e.sourceAddress,
            user_agent: e.userAgent,
            result: e.result,
            old_ipv4: e.oldIpv4,
            old_ipv6: e.oldIpv6,
            new_ipv4: e.newIpv4,
            new_ipv6: e.newIpv6,
            reason: e.reason ?? null,
          })),
        ),
      ]);
    },
    async latest(hostId, limit) {
      const rows: HistoryRow[] = await db('update_history')
        .select(
          'at',
          'last_at',
          'count',
          'source_address',
          'user_agent',
          'result',
          'old_ipv4',
          'old_ipv6',
          'new_ipv4',
          'new_ipv6',
          'reason',
        )
        .where({ host_id: hostId })
        .orderBy([
          { column: 'at', order: 'desc' },
          { column: 'id', order: 'desc' },
        ])
        .limit(limit);
      return rows.map((row) => ({
        at: row.at,
        ...(row.last_at ? { lastAt: row.last_at } : {}),
        count: row.count,
        sourceAddress: row.source_address,
        userAgent: row.user_agent,
        result: row.result,
        oldIpv4: row.old_ipv4,
        oldIpv6: row.old_ipv6,
        newIpv4: row.new_ipv4,
        newIpv6: row.new_ipv6,
        reason: row.reason,
      }));
    },
    async prune({ maxPerHost, before }) {
      if (maxPerHost === 0) return db('update_history').delete();
      const old = await db('update_history').whereRaw('coalesce(last_at, at) < ?', [before]).delete();
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
